package io.lseq.core.mixer;

import java.util.Arrays;

/**
 * The one batch shape every path of the engine runs: runs of consecutive events of {@code keys}
 * different keys, key k's events in rows {@code [start(k), end(k))}. The step is one key with one
 * event, a streaming micro-batch k keys with one event each, a backfill k keys with runs of any
 * length. Each key brings its state (advanced in place) and the position of its run's first
 * event.
 *
 * <p>Mutable and reused: {@link #clear()}, then {@link #add} each key. Growing is the only
 * allocation, so a step that reuses its {@code Runs} allocates nothing.
 */
public final class Runs {
    private int keys;
    private int[] start = new int[2];
    private float[][] states = new float[1][];
    private long[] pos0 = new long[1];
    private boolean single = true;

    /** Empties the batch (keeps its arrays). */
    public void clear() {
        Arrays.fill(states, 0, keys, null);
        keys = 0;
        single = true;
    }

    /** Appends a key: its state, its first event's position and its run's length (at least 1). */
    public void add(float[] state, long firstPosition, int length) {
        if (keys == states.length) {
            int cap = 2 * keys;
            states = Arrays.copyOf(states, cap);
            pos0 = Arrays.copyOf(pos0, cap);
            start = Arrays.copyOf(start, cap + 1);
        }
        states[keys] = state;
        pos0[keys] = firstPosition;
        start[keys + 1] = start[keys] + length;
        single &= length == 1;
        keys++;
    }

    /** Number of keys. */
    public int keys() {
        return keys;
    }

    /** Number of rows (events) of all keys. */
    public int rows() {
        return start[keys];
    }

    /** Key k's first row. */
    public int start(int k) {
        return start[k];
    }

    /** One past key k's last row. */
    public int end(int k) {
        return start[k + 1];
    }

    /** Key k's events. */
    public int length(int k) {
        return start[k + 1] - start[k];
    }

    /** Key k's state. */
    public float[] state(int k) {
        return states[k];
    }

    /** The position of key k's first event in its key's stream. */
    public long firstPosition(int k) {
        return pos0[k];
    }

    /** Whether every run is one event (a step or a micro-batch). */
    public boolean single() {
        return single;
    }
}
