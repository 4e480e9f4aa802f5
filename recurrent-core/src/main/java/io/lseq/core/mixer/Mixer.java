package io.lseq.core.mixer;

import io.lseq.core.math.Parallel;

/**
 * A sequence mixer: maps each event's normed input {@code a} (width H) to an output {@code m}
 * (width {@link #outputDim()}), reading and updating its key's state.
 *
 * <p>One entry point, {@link #forward}, for every shape of batch ({@link Runs}): a step, a
 * micro-batch of keys, or runs of many events per key. Implementations are immutable and shared
 * by all threads; everything mutable lives in the keys' states and in the caller's
 * {@link Scratch}, so a forward pass over a shape seen before allocates nothing.
 */
public interface Mixer {
    /** A mixer's own working memory, for one thread at a time; it grows to the largest batch seen. */
    interface Scratch {}

    /** Floats of per-key state this mixer owns. */
    int stateSize();

    /** M: H for lru, attention and gau; N for gru and lstm. */
    int outputDim();

    /** Number of parameters. */
    long parameters();

    /** New working memory for {@link #forward}. */
    Scratch newScratch();

    /**
     * Advances every run: row {@code a[t]} in, row {@code m[t]} out, key k's state slice at
     * {@code off} of {@code runs.state(k)}, from the position {@code runs.firstPosition(k)}. Rows
     * of different keys are independent; a key's rows go in order. A run of one event is computed
     * as the step computes it; longer runs may run their events in parallel (the LRU's scan,
     * attention's queries), equal to stepping within float rounding.
     *
     * @param scratch from this mixer's {@link #newScratch()}
     * @param par threads for the parts that are parallel over rows or keys ({@link Parallel#SERIAL}: none)
     */
    void forward(Runs runs, int off, float[][] a, float[][] m, Scratch scratch, Parallel par);
}
