package io.lseq.connectors.kafka;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.Endpoint;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
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
        long count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(ep, extra, groupId)) {
            List<TopicPartition> parts = partitions(consumer, ep);
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> stop = stopOffsets(consumer, parts, until);
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
