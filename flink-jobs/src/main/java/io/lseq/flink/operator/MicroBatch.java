package io.lseq.flink.operator;

import io.lseq.connectors.event.Event;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;

/**
 * The events {@link ScoringOperator} holds until it scores them: up to {@code capacity} events
 * of different keys, stepped together ({@link Scorer#stepKeys}: each weight read once per four
 * keys). A capacity of 1 is the event-by-event path: every event is flushed as it arrives and
 * stepped alone ({@link Scorer#stepToken}). The slots are allocated once; holding an event
 * allocates nothing.
 */
final class MicroBatch {
    /** One held event and what scoring it needs; a reused slot. */
    static final class Held {
        Event event;
        boolean hasTimestamp;
        long timestamp;
        /** {@link System#nanoTime()} when it reached the operator. */
        long arrivedNanos;
        /** Its key's state, set by the operator before {@link #step}. */
        KeyState state;
        /** Its score's sequence number, set with the state. */
        long seq;
        /** Its outputs after {@link #step}. */
        final float[] out;

        Held(int outputs) {
            out = new float[outputs];
        }
    }

    private final Held[] held;
    private final boolean tokens;
    private final KeyState[] states;
    private final int[] tokenRow;
    private final float[][] featureRows;
    private final float[][] outs;
    private int count;

    MicroBatch(int capacity, Model model) {
        held = new Held[capacity];
        states = new KeyState[capacity];
        outs = new float[capacity][];
        for (int i = 0; i < capacity; i++) {
            held[i] = new Held(model.outputSize());
            outs[i] = held[i].out;
        }
        tokens = model.config().input().tokens();
        tokenRow = tokens ? new int[capacity] : null;
        featureRows = tokens ? null : new float[capacity][];
    }

    int size() {
        return count;
    }

    boolean isFull() {
        return count == held.length;
    }

    /** Whether an event of {@code key} is held: it must go first, to keep the key's order. */
    boolean holds(String key) {
        int hash = key.hashCode();
        for (int i = 0; i < count; i++) {
            String k = held[i].event.key();
            if (k.hashCode() == hash && k.equals(key)) {
                return true;
            }
        }
        return false;
    }

    /** Holds an event; the batch must not be full. */
    Held add(Event e, boolean hasTimestamp, long timestamp, long arrivedNanos) {
        Held h = held[count++];
        h.event = e;
        h.hasTimestamp = hasTimestamp;
        h.timestamp = timestamp;
        h.arrivedNanos = arrivedNanos;
        return h;
    }

    /** The i-th held event, in arrival order. */
    Held get(int i) {
        return held[i];
    }

    /** Scores every held event from its {@link Held#state}, advancing the states. */
    void step(Scorer scorer) {
        if (held.length == 1) {
            Held h = held[0];
            if (tokens) {
                scorer.stepToken(h.state, h.event.token(), h.out);
            } else {
                scorer.stepFeatures(h.state, h.event.features(), h.out);
            }
            return;
        }
        for (int i = 0; i < count; i++) {
            Held h = held[i];
            states[i] = h.state;
            if (tokens) {
                tokenRow[i] = h.event.token();
            } else {
                featureRows[i] = h.event.features();
            }
        }
        scorer.stepKeys(states, tokenRow, featureRows, count, outs);
    }

    /** Empties the batch, dropping its references to events and states. */
    void clear() {
        for (int i = 0; i < count; i++) {
            held[i].event = null;
            held[i].state = null;
            states[i] = null;
            if (featureRows != null) {
                featureRows[i] = null;
            }
        }
        count = 0;
    }
}
