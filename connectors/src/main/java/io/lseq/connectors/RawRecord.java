package io.lseq.connectors;

/**
 * One record as read, before parsing: its bytes, the Kafka record key if any, and where it was
 * read ({@code topic/partition@offset} or {@code file:line}), for the dead letter.
 *
 * @param value the record's bytes (for a file line longer than the limit, its first bytes)
 * @param length the record's full length in bytes (longer than {@code value} when cut)
 * @param recordKey the Kafka record key as text, or null
 * @param source where it came from
 */
public record RawRecord(byte[] value, long length, String recordKey, String source) {}
