package io.lseq.flink.state;

/**
 * The restored key states were written for a model whose state means something else. Raised
 * while Flink restores, so the job stops before a single state is misread.
 */
public class StateMismatchException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * @param saved the signature recorded with the state
     * @param current the signature of the model this job runs
     */
    public StateMismatchException(String saved, String current) {
        super("the savepoint's key states were written for a model with another architecture, and cannot be read "
                + "by this one. Saved: [" + saved + "]. This job's model: [" + current + "]. Start without the "
                + "savepoint, pass --reset-state, or backfill a savepoint for this model (lseq backfill).");
    }
}
