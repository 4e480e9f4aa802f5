package io.lseq.core.model;

import java.util.List;

/**
 * Something that runs the batch path: scores runs of events for many keys at once and advances
 * their states, as stepping event by event would within MODEL_FORMAT.md's tolerance.
 * {@link BatchScorer} on CPU threads; the gpu module's {@code GpuBatchScorer} on a CUDA device.
 */
public interface BatchBackend extends AutoCloseable {

    /**
     * Scores every sequence and advances its state. The sequences' states must be distinct
     * objects (one run per key per batch). If scoring fails after validation (out of memory, a
     * device error), states and outputs are left undefined.
     *
     * @throws IllegalArgumentException before any state changes, if a sequence does not fit the
     *     model or two share a state ({@link BatchScorer#validate(Model, List)})
     */
    void score(List<Sequence> batch);

    /** What runs the batch, in one line (for example "cpu, 2 threads"). */
    String describe();

    @Override
    void close();
}
