package io.lseq.tests.kafka;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.server.common.MetadataVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The embedded broker behaves like a real single 4.2 broker, transactions included. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EmbeddedKafkaTest {

    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @Test
    void roundTripKeepsKeysOnTheirPartitionInOrder() {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("round-trip", 3);

        List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            String key = "key-" + (i % 12);
            sent.add(new ProducerRecord<>("round-trip", bytes(key), bytes(key + "/" + i)));
        }
        kafka.produce("round-trip", sent);

        List<ConsumerRecord<byte[], byte[]>> got = kafka.consumeAll("round-trip", false, 60, TIMEOUT);

        assertEquals(60, got.size(), "records read back");
        Map<String, Integer> partitionOfKey = new HashMap<>();
        Map<String, List<Integer>> sequenceOfKey = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            String key = string(r.key());
            String value = string(r.value());
            assertTrue(value.startsWith(key + "/"), () -> "value " + value + " under key " + key);
            Integer previous = partitionOfKey.putIfAbsent(key, r.partition());
            if (previous != null) {
                assertEquals(previous, r.partition(), "partition of " + key);
            }
            sequenceOfKey.computeIfAbsent(key, k -> new ArrayList<>())
                    .add(Integer.parseInt(value.substring(key.length() + 1)));
        }
        assertEquals(12, sequenceOfKey.size(), "distinct keys");
        assertEquals(3, Map.copyOf(partitionOfKey).values().stream().distinct().count(),
                "12 keys hashed over 3 partitions use them all");
        sequenceOfKey.forEach((key, seq) -> {
            List<Integer> sorted = new ArrayList<>(seq);
            sorted.sort(null);
            assertEquals(sorted, seq, "per-key order of " + key);
            assertEquals(5, seq.size(), "records of " + key);
        });
    }

    @Test
    void brokerRunsTheProductionMetadataAndTransactionVersions() throws Exception {
        try (Admin admin = KAFKA.kafka().admin()) {
            FeatureMetadata features = admin.describeFeatures().featureMetadata().get(20, TimeUnit.SECONDS);
            assertEquals(MetadataVersion.latestProduction().featureLevel(),
                    features.finalizedFeatures().get("metadata.version").maxVersionLevel(), "metadata.version");
            // transaction.version 2 = KIP-890 (the server-side defence against hanging and
            // zombie transactions), the default of a freshly formatted 4.x broker.
            assertEquals((short) 2,
                    features.finalizedFeatures().get("transaction.version").maxVersionLevel(), "transaction.version");
        }
    }

    @Test
    void readCommittedSeesOnlyCommittedTransactions() {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("tx", 2);

        Map<String, Object> props = kafka.clientProperties();
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "embedded-kafka-test");
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            producer.initTransactions();
            sendInTransaction(producer, "committed-1", 3);
            producer.commitTransaction();
            sendInTransaction(producer, "aborted", 2);
            producer.flush(); // the aborted records are in the log, not just in the producer
            producer.abortTransaction();
            // Committed after the aborted batch: once a read_committed consumer has it, it has
            // necessarily passed the aborted records too.
            sendInTransaction(producer, "committed-2", 1);
            producer.commitTransaction();
        }

        List<String> committed = values(kafka.consumeAll("tx", true, 4, TIMEOUT));
        committed.sort(null);
        assertEquals(List.of("committed-1-0", "committed-1-1", "committed-1-2", "committed-2-0"), committed);

        List<String> all = values(kafka.consumeAll("tx", false, 6, TIMEOUT));
        all.sort(null);
        assertEquals(List.of("aborted-0", "aborted-1",
                "committed-1-0", "committed-1-1", "committed-1-2", "committed-2-0"), all);

        // consumeUntilQuiet settles on the same set and nothing more.
        assertEquals(4, kafka.consumeUntilQuiet("tx", true, Duration.ofMillis(500), TIMEOUT).size());
    }

    @Test
    void consumeUntilQuietOnAnEmptyTopicReturnsNothingAfterTheQuietPeriod() {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("empty", 1);
        long t0 = System.nanoTime();
        List<ConsumerRecord<byte[], byte[]>> got =
                kafka.consumeUntilQuiet("empty", false, Duration.ofMillis(300), TIMEOUT);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(got.isEmpty());
        assertTrue(ms < 10_000, "returned after " + ms + " ms");
    }

    @Test
    void closeDeletesTheDirectoriesUnderTarget() {
        Path dir;
        try (EmbeddedKafka second = EmbeddedKafka.start()) {
            second.createTopic("t", 1);
            second.produce("t", List.of(new ProducerRecord<>("t", bytes("k"), bytes("v"))));
            assertEquals(1, second.consumeAll("t", true, 1, TIMEOUT).size());
            dir = second.baseDirectory();
            assertTrue(Files.isDirectory(dir), dir + " exists while running");
            assertEquals("target", dir.getParent().getFileName().toString(), dir + " is under target/");
        }
        assertFalse(Files.exists(dir), dir + " deleted by close()");
    }

    private static void sendInTransaction(KafkaProducer<byte[], byte[]> producer, String prefix, int n) {
        producer.beginTransaction();
        for (int i = 0; i < n; i++) {
            String value = prefix + "-" + i;
            producer.send(new ProducerRecord<>("tx", bytes("k" + i), bytes(value)));
        }
    }

    private static List<String> values(List<ConsumerRecord<byte[], byte[]>> records) {
        List<String> out = new ArrayList<>();
        records.forEach(r -> out.add(string(r.value())));
        return out;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(UTF_8);
    }

    private static String string(byte[] b) {
        return new String(b, UTF_8);
    }
}
