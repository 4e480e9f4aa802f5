package io.lseq.core.mixer;

import io.lseq.core.math.Parallel;

/**
 * A sequence mixer: maps one event's normed input {@code a} (width H) to an output {@code m}
 * (width {@link #outputDim()}), reading and updating the key's state in place.
 *
 * <p>Implementations are immutable and shared by all threads; everything mutable lives in the
 * state slice and in the caller's scratch array, so a step allocates nothing.
 */
public interface Mixer {
    /** Floats of per-key state this mixer owns. */
    int stateSize();

    /** M: H for lru, attention and gau; N for gru and lstm. */
    int outputDim();

    /** Floats of scratch {@link #step} needs. */
    int scratchSize();

    /** Number of parameters. */
    long parameters();

    /**
     * Advances one event.
     *
     * @param state the key's state; this mixer's slice starts at {@code off}
     * @param pos the event's absolute position in its key's stream (BOS is position 0 when set)
     * @param a the normed input, width H, read only
     * @param m receives the output, width {@link #outputDim()}
     * @param scratch at least {@link #scratchSize()} floats, contents undefined on entry
     */
    void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch);

    /**
     * Advances {@code count} different keys by one event each: key i's state slice at {@code off}
     * of {@code states[i]}, its position {@code pos[i]}, input row {@code a[i]}, output row
     * {@code m[i]}. Equal, within float rounding, to {@link #step} key by key, which is what this
     * default does; mixers with input and output projections run them as one product over the
     * keys, reading each weight once per four keys.
     *
     * @param r1 {@link #keyRowWidth()} floats per key of scratch rows, {@code count} of them
     * @param r2 the same again
     * @param scratch at least {@link #scratchSize()} floats
     */
    default void stepKeys(float[][] states, int off, long[] pos, float[][] a, float[][] m, int count, float[][] r1,
            float[][] r2, float[] scratch) {
        for (int i = 0; i < count; i++) {
            step(states[i], off, pos[i], a[i], m[i], scratch);
        }
    }

    /** Width of the scratch rows {@link #stepKeys} uses (0: none). */
    default int keyRowWidth() {
        return 0;
    }

    /**
     * Advances a run of {@code length} consecutive events of one key, starting at position
     * {@code pos0}: row {@code a[t]} in, row {@code m[t]} out, the state left after the last
     * event. Equal, within float rounding, to {@link #step} event by event, which is what this
     * default does; mixers whose recurrence allows it run the events in parallel.
     */
    default void sequence(float[] state, int off, long pos0, float[][] a, float[][] m, int length, Parallel par) {
        float[] scratch = new float[scratchSize()];
        for (int t = 0; t < length; t++) {
            step(state, off, pos0 + t, a[t], m[t], scratch);
        }
    }

    /**
     * Advances runs of events of {@code count} different keys, on the calling thread: key k's rows
     * are {@code a[start[k] .. start[k+1])} in, the same rows of {@code m} out, from its state
     * slice at {@code off} of {@code states[k]} and its position {@code pos0[k]}. Equal, within
     * float rounding, to {@link #sequence} key by key, which is what this default does; mixers
     * whose step is a product of the state (GRU, LSTM) run the keys in lockstep, one product over
     * the keys per event.
     */
    default void sequenceKeys(float[][] states, int off, long[] pos0, float[][] a, float[][] m, int[] start, int count) {
        for (int k = 0; k < count; k++) {
            int len = start[k + 1] - start[k];
            if (len > 0) {
                sequence(states[k], off, pos0[k], java.util.Arrays.copyOfRange(a, start[k], start[k + 1]),
                        java.util.Arrays.copyOfRange(m, start[k], start[k + 1]), len, Parallel.SERIAL);
            }
        }
    }
}
