package io.lseq.flink.backfill;

import io.lseq.connectors.RawRecord;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;

/**
 * Stamps each raw record with its position in the history as its Flink timestamp: the line number
 * for a file ({@code name:line}), {@code partition << 40 | offset} for Kafka
 * ({@code topic/partition@offset}).
 *
 * <p>Why: in BATCH execution Flink sorts a keyed input by key and then by timestamp, with no
 * other order kept (the sort is not stable). With the position as timestamp each key's events
 * reach the backfill operator in the order they have in the history; a key spread over several
 * Kafka partitions gets partition after partition (Kafka orders nothing across partitions).
 * The timestamp is read from the source text without allocating.
 */
final class SourcePosition implements SerializableTimestampAssigner<RawRecord> {
    private static final long serialVersionUID = 1L;
    private static final int OFFSET_BITS = 40;

    private final boolean kafka;

    /** @param kafka records from Kafka, else from a file */
    SourcePosition(boolean kafka) {
        this.kafka = kafka;
    }

    @Override
    public long extractTimestamp(RawRecord r, long recordTimestamp) {
        return kafka ? kafka(r.source()) : number(r.source(), r.source().lastIndexOf(':') + 1, r.source().length());
    }

    /** {@code topic/partition@offset} as {@code partition << 40 | offset}. */
    static long kafka(String source) {
        int at = source.lastIndexOf('@');
        long partition = number(source, source.lastIndexOf('/', at) + 1, at);
        long offset = number(source, at + 1, source.length());
        if (partition >= 1L << (63 - OFFSET_BITS) || offset >= 1L << OFFSET_BITS) {
            throw new IllegalArgumentException("position " + source + " exceeds partition 2^23 or offset 2^40");
        }
        return partition << OFFSET_BITS | offset;
    }

    /** The decimal number in {@code s[from, to)}. */
    static long number(String s, int from, int to) {
        if (from >= to) {
            throw new IllegalArgumentException("no position in '" + s + "'");
        }
        long n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("no position in '" + s + "'");
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }
}
