package io.lseq.connectors.kafka;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.RawRecord;
import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka wiring: the event source, and the score and dead-letter sinks, exactly-once
 * (transactions committed at checkpoints) or at-least-once (plain idempotent writes, visible at once).
 */
public final class KafkaIO {
    /** Transaction timeout for exactly-once producers; the client's 1 h default exceeds the broker's 15 min cap. */
    static final String TRANSACTION_TIMEOUT_MS = "60000";
    /**
     * How long an at-least-once producer waits to fill a batch: 5 ms bounds the latency it adds
     * while letting a loaded job send batches rather than one request per score (also the
     * client's default since Kafka 4.0, set here so that an older client behaves the same).
     */
    static final String AT_LEAST_ONCE_LINGER_MS = "5";

    private KafkaIO() {}

    /**
     * The consumer group of a model's streaming job and of its backfill, unless the user names
     * one: the same default on both sides, so a backfill commits its stop offsets where the job
     * will resume.
     */
    public static String defaultGroupId(String modelName) {
        return "lseq-" + modelName;
    }

    /**
     * A source of raw records from {@code topic}: it resumes from the group's committed offsets
     * (else from the earliest), reads only committed records, and records each one's
     * {@code topic/partition@offset}.
     *
     * @param untilEnd stop at the offsets that are the end of the topic when the job starts
     */
    public static KafkaSource<RawRecord> source(Endpoint ep, String groupId, Properties extra, boolean untilEnd) {
        Properties p = new Properties();
        p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.putAll(extra);
        KafkaSourceBuilder<RawRecord> b = KafkaSource.<RawRecord>builder()
                .setBootstrapServers(ep.bootstrap())
                .setTopics(ep.target())
                .setGroupId(groupId)
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new RawRecords())
                .setProperties(p);
        if (untilEnd) {
            b.setBounded(OffsetsInitializer.latest());
        }
        return b.build();
    }

    /**
     * A bounded source of a topic's history for the cluster backfill: every partition from its
     * beginning to {@code stop} (from {@link KafkaHistory#stopOffsets}), committed records only.
     * It commits no offsets (the backfill commits {@code stop} for the streaming job's group once
     * its savepoint is written).
     */
    public static KafkaSource<RawRecord> history(Endpoint ep, Properties extra, Map<TopicPartition, Long> stop) {
        Properties p = new Properties();
        p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.setProperty("commit.offsets.on.checkpoint", "false");
        p.putAll(extra);
        return KafkaSource.<RawRecord>builder()
                .setBootstrapServers(ep.bootstrap())
                .setTopics(ep.target())
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.offsets(stop))
                .setDeserializer(new RawRecords())
                .setProperties(p)
                .build();
    }

    /**
     * The producer properties of a sink: for exactly-once the transaction timeout; for
     * at-least-once the idempotent producer ({@code enable.idempotence=true}, {@code acks=all}: no
     * duplicates or reordering from the client's own retries) and {@code linger.ms} 5. The user's
     * {@code extra} properties override these.
     */
    static Properties producerProperties(DeliveryGuarantee delivery, Properties extra) {
        Properties p = new Properties();
        switch (delivery) {
            case EXACTLY_ONCE -> p.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, TRANSACTION_TIMEOUT_MS);
            case AT_LEAST_ONCE -> {
                p.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
                p.setProperty(ProducerConfig.ACKS_CONFIG, "all");
                p.setProperty(ProducerConfig.LINGER_MS_CONFIG, AT_LEAST_ONCE_LINGER_MS);
            }
            default -> throw new IllegalArgumentException("delivery must be exactly-once or at-least-once, got " + delivery);
        }
        p.putAll(extra);
        return p;
    }

    /**
     * A sink of JSON values keyed by {@code key} (UTF-8), to {@code ep}'s topic.
     *
     * @param delivery {@code EXACTLY_ONCE}: transactions committed when a checkpoint completes
     *                 (read with {@code read_committed}); {@code AT_LEAST_ONCE}: plain writes, flushed
     *                 at every checkpoint, repeated after a failure for the events since the last one
     * @param transactionalIdPrefix exactly-once only (ignored otherwise)
     */
    public static <T> KafkaSink<T> sink(Endpoint ep, DeliveryGuarantee delivery, String transactionalIdPrefix,
                                        Properties extra, SerializableFunction<T, byte[]> key,
                                        SerializableFunction<T, byte[]> value) {
        Properties p = producerProperties(delivery, extra);
        String topic = ep.target();
        var b = KafkaSink.<T>builder()
                .setBootstrapServers(ep.bootstrap())
                .setDeliveryGuarantee(delivery)
                .setKafkaProducerConfig(p)
                .setRecordSerializer((KafkaRecordSerializationSchema<T>) (element, ctx, ts) ->
                        new ProducerRecord<>(topic, key.apply(element), value.apply(element)));
        if (delivery == DeliveryGuarantee.EXACTLY_ONCE) {
            b.setTransactionalIdPrefix(transactionalIdPrefix);
        }
        return b.build();
    }

    /** The score sink: keyed by the score's key, so one key's scores stay in order in one partition. */
    public static KafkaSink<Score> scoreSink(Endpoint ep, DeliveryGuarantee delivery, String transactionalIdPrefix,
                                             Properties extra) {
        return sink(ep, delivery, transactionalIdPrefix, extra, s -> s.key().getBytes(StandardCharsets.UTF_8), Json::score);
    }

    /** The dead-letter sink (unkeyed). */
    public static KafkaSink<DeadLetter> deadLetterSink(Endpoint ep, DeliveryGuarantee delivery, String transactionalIdPrefix,
                                                       Properties extra) {
        return sink(ep, delivery, transactionalIdPrefix, extra, d -> null, Json::deadLetter);
    }

    /** A serializable function. */
    public interface SerializableFunction<A, B> extends Function<A, B>, java.io.Serializable {}

    /** Keeps value bytes (cut past the record limit), record key and position. */
    static final class RawRecords implements KafkaRecordDeserializationSchema<RawRecord> {
        private static final long serialVersionUID = 1L;

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<RawRecord> out) {
            byte[] v = r.value() == null ? new byte[0] : r.value();
            long length = v.length;
            if (length > EventParser.MAX_RECORD_BYTES) {
                v = Arrays.copyOf(v, DeadLetter.MAX_RAW_BYTES + 4); // keep what a dead letter shows
            }
            String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
            out.collect(new RawRecord(v, length, key, DeadLetter.kafkaSource(r.topic(), r.partition(), r.offset())));
        }

        @Override
        public TypeInformation<RawRecord> getProducedType() {
            return TypeInformation.of(RawRecord.class);
        }
    }
}
