package io.lseq.sql;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.common.test.api.TestKitDefaults;
import org.apache.kafka.metadata.bootstrap.BootstrapMetadata;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * A one-node in-process KRaft broker for the SQL tests, set up as the tests module's
 * EmbeddedKafka is (production metadata version and features, single-replica internal topics,
 * the 15 min transaction maximum of a real broker); see that class for why each setting.
 */
final class KafkaBroker implements AutoCloseable {
    private final KafkaClusterTestKit cluster;
    private final String bootstrap;
    private final Path dir;

    private KafkaBroker(KafkaClusterTestKit cluster, String bootstrap, Path dir) {
        this.cluster = cluster;
        this.bootstrap = bootstrap;
        this.dir = dir;
    }

    static KafkaBroker start() throws Exception {
        Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target")), "kafka-");
        MetadataVersion version = MetadataVersion.latestProduction();
        Map<String, Short> features = Feature.PRODUCTION_FEATURES.stream().collect(Collectors.toMap(
                Feature::featureName, f -> f.defaultLevel(version), (a, b) -> a, TreeMap::new));
        TestKitNodes nodes = new TestKitNodes.Builder(BootstrapMetadata.fromVersions(version, features, "lseq sql tests"))
                .setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).setBaseDirectory(dir).build();
        KafkaClusterTestKit.Builder b = new KafkaClusterTestKit.Builder(nodes);
        Map.ofEntries(
                Map.entry("offsets.topic.replication.factor", "1"),
                Map.entry("offsets.topic.num.partitions", "1"),
                Map.entry("transaction.state.log.replication.factor", "1"),
                Map.entry("transaction.state.log.min.isr", "1"),
                Map.entry("transaction.state.log.num.partitions", "1"),
                Map.entry("share.coordinator.state.topic.replication.factor", "1"),
                Map.entry("share.coordinator.state.topic.min.isr", "1"),
                Map.entry("default.replication.factor", "1"),
                Map.entry("min.insync.replicas", "1"),
                Map.entry("transaction.max.timeout.ms", "900000"),
                Map.entry("group.initial.rebalance.delay.ms", "0"),
                Map.entry("unstable.api.versions.enable", "false"),
                Map.entry("unstable.feature.versions.enable", "false")).forEach(b::setConfigProp);
        b.setConfigProp("listeners", String.format("%s://127.0.0.1:0,%s://127.0.0.1:0",
                TestKitDefaults.DEFAULT_BROKER_LISTENER_NAME, TestKitDefaults.DEFAULT_CONTROLLER_LISTENER_NAME));
        KafkaClusterTestKit cluster = b.build();
        cluster.format();
        cluster.startup();
        cluster.waitForReadyBrokers();
        int port = cluster.brokers().values().iterator().next()
                .boundPort(ListenerName.normalised(TestKitDefaults.DEFAULT_BROKER_LISTENER_NAME));
        return new KafkaBroker(cluster, "127.0.0.1:" + port, dir);
    }

    String bootstrap() {
        return bootstrap;
    }

    void createTopic(String name, int partitions) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        }
    }

    /** Sends (key, value) records, keyed so that one key's records share a partition and keep their order. */
    void produce(String topic, List<byte[][]> keyValues) throws Exception {
        Map<String, Object> p = new HashMap<>(Map.of("bootstrap.servers", bootstrap, "acks", "all",
                "key.serializer", ByteArraySerializer.class.getName(), "value.serializer", ByteArraySerializer.class.getName()));
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (byte[][] kv : keyValues) {
                producer.send(new ProducerRecord<>(topic, kv[0], kv[1]));
            }
            producer.flush();
        }
    }

    /** Every committed record of the topic (read_committed), read until none came for {@code quiet}. */
    List<byte[]> readCommitted(String topic, Duration quiet) {
        Map<String, Object> p = new HashMap<>(Map.of("bootstrap.servers", bootstrap, "isolation.level", "read_committed",
                "key.deserializer", ByteArrayDeserializer.class.getName(),
                "value.deserializer", ByteArrayDeserializer.class.getName(), "enable.auto.commit", "false"));
        List<byte[]> values = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            long last = System.nanoTime();
            while (System.nanoTime() - last < quiet.toNanos()) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                    last = System.nanoTime();
                }
            }
        }
        return values;
    }

    @Override
    public void close() throws Exception {
        cluster.close();
        org.apache.kafka.common.utils.Utils.delete(dir.toFile());
    }
}
