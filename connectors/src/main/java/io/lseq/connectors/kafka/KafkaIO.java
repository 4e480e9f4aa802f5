package io.lseq.connectors.kafka;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.RawRecord;
import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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

/** The Kafka wiring: the event source, and the exactly-once score and dead-letter sinks. */
public final class KafkaIO {
    /** Transaction timeout for exactly-once producers; the client's 1 h default exceeds the broker's 15 min cap. */
    static final String TRANSACTION_TIMEOUT_MS = "60000";

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

    /** An exactly-once sink of JSON values keyed by {@code key} (UTF-8), to {@code ep}'s topic. */
    public static <T> KafkaSink<T> sink(Endpoint ep, String transactionalIdPrefix, Properties extra,
                                        SerializableFunction<T, byte[]> key, SerializableFunction<T, byte[]> value) {
        Properties p = new Properties();
        p.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, TRANSACTION_TIMEOUT_MS);
        p.putAll(extra);
        String topic = ep.target();
        return KafkaSink.<T>builder()
                .setBootstrapServers(ep.bootstrap())
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .setKafkaProducerConfig(p)
                .setRecordSerializer((KafkaRecordSerializationSchema<T>) (element, ctx, ts) ->
                        new ProducerRecord<>(topic, key.apply(element), value.apply(element)))
                .build();
    }

    /** The score sink: keyed by the score's key, so one key's scores stay in order in one partition. */
    public static KafkaSink<Score> scoreSink(Endpoint ep, String transactionalIdPrefix, Properties extra) {
        return sink(ep, transactionalIdPrefix, extra, s -> s.key().getBytes(StandardCharsets.UTF_8), Json::score);
    }

    /** The dead-letter sink (unkeyed). */
    public static KafkaSink<DeadLetter> deadLetterSink(Endpoint ep, String transactionalIdPrefix, Properties extra) {
        return sink(ep, transactionalIdPrefix, extra, d -> null, Json::deadLetter);
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
