package io.lseq.connectors.kafka;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.Endpoint;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a topic's history for a backfill: every partition from its beginning up to the end it
 * has now, or up to the first record stamped after a time, committed records only. At the end
 * the stop offsets are committed for the streaming job's consumer group, so that
 * {@code lseq run --from-savepoint} goes on exactly where the backfill stopped.
 */
public final class KafkaHistory {
    /** One record of the history. */
    public interface Sink {
        /** Receives a record's value, its key as text (or null) and its position. */
        void accept(byte[] value, String key, String source);
    }

    private KafkaHistory() {}

    /**
     * Where a history of {@code ep}'s topic stops, per partition: the end each has now, or with
     * {@code until} the first record stamped after it. The cluster backfill bounds its source by
     * these, fixed before it starts, and commits them with {@link #commit} once it has finished.
     */
    public static Map<TopicPartition, Long> stopOffsets(Endpoint ep, Properties extra, long until) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, null)) {
            return stopOffsets(consumer, partitions(consumer, ep), until);
        }
    }

    /**
     * Where a history of {@code ep}'s topic stops so that it ends where a streaming job stood:
     * {@code recorded} holds each partition's next offset from the job's savepoint, or the
     * connector's marker for a partition its reader had not read from yet, which resolves to where
     * that reader would have started: the beginning ({@link KafkaPartitionSplit#EARLIEST_OFFSET}),
     * or {@code jobGroup}'s committed offset, else the beginning
     * ({@link KafkaPartitionSplit#COMMITTED_OFFSET}, the streaming job's start). A partition the
     * savepoint does not name (added since) stops at its beginning: the job reads it whole.
     *
     * @throws IllegalArgumentException if the savepoint names no partition of this topic, or an
     *     offset the topic does not have
     */
    public static Map<TopicPartition, Long> stopOffsetsAt(Endpoint ep, Properties extra,
            Map<TopicPartition, Long> recorded, String jobGroup) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, null)) {
            List<TopicPartition> parts = partitions(consumer, ep);
            if (parts.stream().noneMatch(recorded::containsKey)) {
                throw new IllegalArgumentException("the savepoint holds no position in topic " + ep.target()
                        + " (it has " + recorded.keySet() + "): not the history of that job's source");
            }
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            Map<TopicPartition, OffsetAndMetadata> committed = jobGroup == null ? Map.of()
                    : committed(ep, extra, jobGroup, new HashSet<>(parts));
            Map<TopicPartition, Long> stop = new HashMap<>();
            for (TopicPartition tp : parts) {
                long at = recorded.getOrDefault(tp, KafkaPartitionSplit.EARLIEST_OFFSET);
                if (at == KafkaPartitionSplit.COMMITTED_OFFSET) {
                    OffsetAndMetadata c = committed.get(tp);
                    at = c != null ? c.offset() : begin.get(tp);
                } else if (at == KafkaPartitionSplit.EARLIEST_OFFSET) {
                    at = begin.get(tp);
                } else if (at < 0) {
                    throw new IllegalArgumentException("the savepoint records no offset for " + tp + " (marker " + at
                            + ": the latest offset when that job started, no longer known)");
                } else if (at > end.get(tp)) {
                    throw new IllegalArgumentException("the savepoint's offset " + at + " for " + tp
                            + " is past the partition's end " + end.get(tp) + " (was the topic recreated?)");
                }
                stop.put(tp, at);
            }
            return stop;
        }
    }

    private static Map<TopicPartition, OffsetAndMetadata> committed(Endpoint ep, Properties extra, String group,
            java.util.Set<TopicPartition> parts) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, group)) {
            Map<TopicPartition, OffsetAndMetadata> c = new HashMap<>();
            consumer.committed(parts, Duration.ofSeconds(60)).forEach((tp, o) -> {
                if (o != null) {
                    c.put(tp, o);
                }
            });
            return c;
        }
    }

    /** Commits {@code offsets} for {@code groupId}: where the streaming job of that group resumes. */
    public static void commit(Endpoint ep, Properties extra, String groupId, Map<TopicPartition, Long> offsets) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, groupId)) {
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            offsets.forEach((tp, off) -> commit.put(tp, new OffsetAndMetadata(off)));
            consumer.commitSync(commit);
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(Endpoint ep, Properties extra, String groupId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, ep.bootstrap());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (groupId != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        p.putAll(extra);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, Endpoint ep) {
        List<TopicPartition> parts = consumer.partitionsFor(ep.target(), Duration.ofSeconds(60)).stream()
                .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("topic " + ep.target() + " has no partitions");
        }
        return parts;
    }

    private static Map<TopicPartition, Long> stopOffsets(KafkaConsumer<?, ?> consumer, List<TopicPartition> parts,
            long until) {
        Map<TopicPartition, Long> stop = new HashMap<>(consumer.endOffsets(parts));
        if (until != Long.MAX_VALUE) {
            Map<TopicPartition, Long> query = new HashMap<>();
            parts.forEach(tp -> query.put(tp, until + 1));
            for (Map.Entry<TopicPartition, OffsetAndTimestamp> e : consumer.offsetsForTimes(query).entrySet()) {
                if (e.getValue() != null) {
                    stop.put(e.getKey(), Math.min(stop.get(e.getKey()), e.getValue().offset()));
                }
            }
        }
        return stop;
    }

    /**
     * @param until the last record timestamp to include (epoch ms), or {@code Long.MAX_VALUE}
     * @param groupId the consumer group whose offsets are set to where the history stops
     * @return records read
     */
    public static long read(Endpoint ep, Properties extra, long until, String groupId, Sink sink) {
        return read(ep, extra, until, null, groupId, sink);
    }

    /**
     * As {@link #read(Endpoint, Properties, long, String, Sink)}, but stopping at {@code stop}
     * (from {@link #stopOffsetsAt}) instead of the topic's end or {@code until}.
     *
     * @param stop each partition's stop offset; null to stop at the end or at {@code until}
     */
    public static long read(Endpoint ep, Properties extra, long until, Map<TopicPartition, Long> stopAt, String groupId,
            Sink sink) {
        long count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, groupId)) {
            List<TopicPartition> parts = partitions(consumer, ep);
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            if (stopAt != null && !stopAt.keySet().containsAll(parts)) {
                throw new IllegalArgumentException("no stop offset for every partition of " + ep.target() + ": " + stopAt);
            }
            Map<TopicPartition, Long> stop = stopAt != null ? stopAt : stopOffsets(consumer, parts, until);
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < stop.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (r.offset() >= stop.get(tp)) {
                        continue;
                    }
                    sink.accept(r.value() == null ? new byte[0] : r.value(),
                            r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8),
                            DeadLetter.kafkaSource(r.topic(), r.partition(), r.offset()));
                    count++;
                }
            }
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            stop.forEach((tp, off) -> commit.put(tp, new OffsetAndMetadata(off)));
            consumer.commitSync(commit);
        }
        return count;
    }
}
