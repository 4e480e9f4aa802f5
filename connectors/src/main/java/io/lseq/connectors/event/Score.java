package io.lseq.connectors.event;

/**
 * One emitted score (EVENTS.md): for {@code next_token} and {@code regression} heads a single
 * {@code score}, for {@code classes} heads {@code probs}.
 *
 * @param key the event's key
 * @param seq 0-based index of the event in its key's stream, BOS not counted
 * @param ts the event's time, or null
 * @param id the event's id, or null
 * @param model the model's name
 * @param values the score (one value) or the class probabilities
 * @param probs whether {@code values} are class probabilities
 */
public record Score(String key, long seq, Long ts, String id, String model, float[] values, boolean probs) {

    /** The single score; only for models that emit one. */
    public float score() {
        return values[0];
    }
}
