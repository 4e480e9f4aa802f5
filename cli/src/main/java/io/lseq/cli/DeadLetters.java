package io.lseq.cli;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.connectors.json.Json;
import java.io.IOException;
import java.io.OutputStream;

/** Parses records for the commands that read files, sending rejects to a dead-letter output. */
final class DeadLetters {
    private final EventParser parser;
    private final OutputStream out;
    private long rejected;

    DeadLetters(EventParser parser, OutputStream out) {
        this.parser = parser;
        this.out = out;
    }

    /**
     * The event in {@code bytes[0..length)}, or null after writing its dead letter.
     *
     * @param fullLength the record's real length (longer than {@code length} when it was cut)
     * @param key the Kafka record key, or null
     */
    Event parse(byte[] bytes, int length, long fullLength, String key, String source) throws IOException {
        try {
            return parser.parse(bytes, 0, length, fullLength, key);
        } catch (InvalidEventException ex) {
            out.write(Json.deadLetter(DeadLetter.of(ex.getMessage(), bytes, 0, length, source)));
            out.write('\n');
            rejected++;
            return null;
        }
    }

    /** Records rejected so far. */
    long rejected() {
        return rejected;
    }
}
