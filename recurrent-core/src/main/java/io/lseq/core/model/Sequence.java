package io.lseq.core.model;

/**
 * A run of consecutive events of one key, for {@link BatchScorer}: the key's state (advanced in
 * place), the events as tokens or feature rows, and where their outputs go.
 *
 * @param state the key's state before the first event; after the batch, after the last
 * @param tokens the events' tokens, for a token model (else null)
 * @param features the events' feature vectors, for a feature model (else null)
 * @param out receives {@link Model#outputSize()} floats per event, event after event
 */
public record Sequence(KeyState state, int[] tokens, float[][] features, float[] out) {

    /** Number of events. */
    public int length() {
        return tokens != null ? tokens.length : features.length;
    }
}
