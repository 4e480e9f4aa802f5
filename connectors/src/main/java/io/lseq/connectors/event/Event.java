package io.lseq.connectors.event;

/**
 * One valid input event (EVENTS.md): a key, an optional event time and id, and either a token or
 * a feature vector, already checked against the model's input.
 *
 * @param key the stream it belongs to, 1..256 UTF-8 bytes
 * @param ts event time in epoch milliseconds, or null
 * @param id passed through to the score, or null
 * @param token the token, when the model takes tokens (else -1)
 * @param features the feature vector, when the model takes features (else null)
 */
public record Event(String key, Long ts, String id, int token, float[] features) {}
