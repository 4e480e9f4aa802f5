package io.lseq.connectors.event;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;

/**
 * A rejected record as EVENTS.md writes it: the reason, the original text cut at 4 KiB, and where
 * it came from ({@code topic/partition@offset}, or {@code file:line}).
 *
 * @param error why it was rejected
 * @param raw the original text, at most {@link #MAX_RAW_BYTES} UTF-8 bytes of it
 * @param source where it was read
 */
public record DeadLetter(String error, String raw, String source) {
    /** How much of the original record a dead letter keeps. */
    public static final int MAX_RAW_BYTES = 4096;

    /** A dead letter for {@code record[off..off+len)}, its text cut at 4 KiB on a character boundary. */
    public static DeadLetter of(String error, byte[] record, int off, int len, String source) {
        int keep = Math.min(len, MAX_RAW_BYTES);
        if (keep < len) {
            // Step back over UTF-8 continuation bytes so that no character is split.
            while (keep > 0 && (record[off + keep] & 0xc0) == 0x80) {
                keep--;
            }
        }
        return new DeadLetter(error, decode(record, off, keep), source);
    }

    /** Kafka-style source position: {@code topic/partition@offset}. */
    public static String kafkaSource(String topic, int partition, long offset) {
        return topic + "/" + partition + "@" + offset;
    }

    /** File source position: {@code file:line}, line counted from 1. */
    public static String fileSource(String file, long line) {
        return file + ":" + line;
    }

    private static String decode(byte[] b, int off, int len) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            CharBuffer cb = dec.decode(ByteBuffer.wrap(b, off, len));
            return cb.toString();
        } catch (CharacterCodingException e) {
            throw new AssertionError("REPLACE never throws", e);
        }
    }
}
