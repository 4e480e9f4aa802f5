package io.lseq.core.model;

/**
 * A run of consecutive events of one key, for {@link BatchScorer}: the key's state (advanced in
 * place), the events as tokens or feature rows, and where their outputs go.
 *
 * @param state the key's state before the first event; after the batch, after the last
 * @param tokens the events' tokens, for a token model (else null)
 * @param features the events' feature vectors, for a feature model (else null)
 * @param out receives {@link Model#outputSize()} floats per event, event after event; or null
 *     when only the state is wanted (a backfill): the CPU batch path then skips the head's
 *     outputs, which for a next-token head are a product and a log-sum-exp over the vocabulary
 *     per event
 */
public record Sequence(KeyState state, int[] tokens, float[][] features, float[] out) {

    /** Number of events. */
    public int length() {
        return tokens != null ? tokens.length : features.length;
    }

    /**
     * Events {@code [from, to)} as a sequence of their own, on the same state: a batch path that
     * takes a long run in parts scores the parts in order. The whole run when it is all of it;
     * otherwise copies of the inputs and a new {@code out} of {@code outputSize} floats per event,
     * which {@link #copyOutTo} puts back.
     */
    public Sequence slice(int from, int to, int outputSize) {
        if (from == 0 && to == length()) {
            return this;
        }
        return new Sequence(state, tokens == null ? null : java.util.Arrays.copyOfRange(tokens, from, to),
                features == null ? null : java.util.Arrays.copyOfRange(features, from, to),
                out == null ? null : new float[(to - from) * outputSize]);
    }

    /** Copies this slice's outputs into {@code whole}'s, where its events start at {@code from}. */
    public void copyOutTo(Sequence whole, int from, int outputSize) {
        if (whole != this && out != null) {
            System.arraycopy(out, 0, whole.out, from * outputSize, length() * outputSize);
        }
    }
}
