package io.lseq.tests.kafka;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.common.test.api.TestKitDefaults;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.metadata.bootstrap.BootstrapMetadata;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-process Kafka 4.2 broker for tests: one combined KRaft node (broker and controller in
 * one server) from {@link KafkaClusterTestKit}, started in about two seconds.
 *
 * <p>Use it directly ({@code try (EmbeddedKafka kafka = EmbeddedKafka.start()) {...}}) or as a
 * JUnit 5 extension shared by a test class:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();
 * ... KAFKA.kafka().bootstrapServers() ...
 * }</pre>
 *
 * <h2>Behaves like a production broker</h2>
 * The test kit's default bootstrap uses Kafka's newest <em>testing</em> metadata version and
 * allows unstable APIs and feature versions. Here the cluster is bootstrapped with
 * {@link MetadataVersion#latestProduction()} and the default level of every production
 * {@link Feature} at that version (for Kafka 4.2: {@code metadata.version} 4.2-IV1,
 * {@code transaction.version} 2, the KIP-890 transaction protocol), and unstable APIs and
 * feature versions are switched off, so clients negotiate exactly what they would against a
 * real 4.2 broker such as the one {@code deploy/local/kafka.sh} runs.
 *
 * <h2>Broker settings, and why</h2>
 * <ul>
 *   <li>{@code offsets.topic.replication.factor=1}, {@code transaction.state.log.replication.factor=1},
 *       {@code transaction.state.log.min.isr=1}, {@code share.coordinator.state.topic.replication.factor=1},
 *       {@code share.coordinator.state.topic.min.isr=1}, {@code default.replication.factor=1},
 *       {@code min.insync.replicas=1}: there is one broker. With the defaults (3, 2) the internal
 *       topics could never be created, and transactional producers, consumer groups and
 *       {@code acks=all} writes would wait forever.</li>
 *   <li>{@code transaction.max.timeout.ms=900000}: Kafka's own default (15 min), stated
 *       explicitly so that a job whose {@code transaction.timeout.ms} a real broker would refuse
 *       (the Flink KafkaSink default of 1 h) fails here too, instead of passing against a
 *       laxer test broker.</li>
 *   <li>{@code offsets.topic.num.partitions=1}, {@code transaction.state.log.num.partitions=1}:
 *       the first group or transactional producer otherwise creates 50 partitions, which costs
 *       seconds on a two-core machine and changes nothing else on a single broker.</li>
 *   <li>{@code group.initial.rebalance.delay.ms=0}: a consumer group's first member starts at
 *       once instead of after 3 s.</li>
 *   <li>{@code unstable.api.versions.enable=false}, {@code unstable.feature.versions.enable=false}:
 *       the test kit turns these on; a real broker has them off.</li>
 *   <li>{@code listeners} on 127.0.0.1, so the advertised address (what clients are told to
 *       connect to) is 127.0.0.1. Note that the test kit pre-binds its ports with an ephemeral
 *       port on the wildcard address; the broker is reachable on other interfaces too.</li>
 * </ul>
 *
 * <p>Its directories are a fresh {@code target/kafka-<random>/} of the tests module; {@link
 * #close()} deletes them.
 */
public final class EmbeddedKafka implements AutoCloseable {

    /** The broker settings described in the class comment. */
    static final Map<String, String> BROKER_SETTINGS = Map.ofEntries(
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
            Map.entry("unstable.feature.versions.enable", "false"));

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

    /** The user a SASL/PLAIN broker ({@link #startSaslPlain()}) accepts for clients, and its password. */
    public static final String SASL_USER = "lseq";
    public static final String SASL_PASSWORD = "lseq-test-secret-4711";

    private final KafkaClusterTestKit cluster;
    private final Path baseDir;
    private final String bootstrapServers;
    private final Map<String, String> clientSecurity;
    private boolean closed;

    private EmbeddedKafka(KafkaClusterTestKit cluster, Path baseDir, String bootstrapServers,
                          Map<String, String> clientSecurity) {
        this.cluster = cluster;
        this.baseDir = baseDir;
        this.bootstrapServers = bootstrapServers;
        this.clientSecurity = clientSecurity;
    }

    /** Formats and starts a one-node cluster and waits until its broker is ready. */
    public static EmbeddedKafka start() {
        return start(false);
    }

    /**
     * As {@link #start()}, but clients must authenticate with SASL/PLAIN as {@link #SASL_USER}
     * ({@link #clientProperties()} carries the settings); the controller listener stays plain.
     */
    public static EmbeddedKafka startSaslPlain() {
        return start(true);
    }

    /** The client settings for a SASL/PLAIN broker as {@code user} with {@code password}. */
    public static Map<String, String> saslClientSettings(String user, String password) {
        return Map.of("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
                        + user + "\" password=\"" + password + "\";");
    }

    private static EmbeddedKafka start(boolean sasl) {
        long t0 = System.nanoTime();
        Path baseDir;
        try {
            Path target = targetDirectory();
            Files.createDirectories(target);
            baseDir = Files.createTempDirectory(target, "kafka-");
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the broker's directory", e);
        }
        KafkaClusterTestKit cluster = null;
        try {
            TestKitNodes.Builder nodesBuilder = new TestKitNodes.Builder(productionBootstrapMetadata());
            if (sasl) {
                nodesBuilder.setBrokerSecurityProtocol(SecurityProtocol.SASL_PLAINTEXT);
            }
            TestKitNodes nodes = nodesBuilder
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .setBaseDirectory(baseDir)
                    .build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes);
            BROKER_SETTINGS.forEach(builder::setConfigProp);
            builder.setConfigProp("listeners", String.format("%s://127.0.0.1:0,%s://127.0.0.1:0",
                    TestKitDefaults.DEFAULT_BROKER_LISTENER_NAME,
                    TestKitDefaults.DEFAULT_CONTROLLER_LISTENER_NAME));
            if (sasl) {
                String listener = TestKitDefaults.DEFAULT_BROKER_LISTENER_NAME.toLowerCase(java.util.Locale.ROOT);
                // The test kit adds an ACL authorizer in SASL mode; the plain controller listener's
                // ANONYMOUS principal and the two users act as super users (no ACLs are tested here).
                builder.setConfigProp("super.users", "User:ANONYMOUS;User:admin;User:" + SASL_USER);
                builder.setConfigProp("sasl.enabled.mechanisms", "PLAIN");
                builder.setConfigProp("sasl.mechanism.inter.broker.protocol", "PLAIN");
                builder.setConfigProp("listener.name." + listener + ".plain.sasl.jaas.config",
                        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" "
                                + "password=\"admin-secret\" user_admin=\"admin-secret\" user_" + SASL_USER + "=\""
                                + SASL_PASSWORD + "\";");
            }
            cluster = builder.build();
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
            int port = cluster.brokers().values().iterator().next()
                    .boundPort(ListenerName.normalised(TestKitDefaults.DEFAULT_BROKER_LISTENER_NAME));
            LOG.info("Kafka broker on 127.0.0.1:{} started in {} ms ({})",
                    port, (System.nanoTime() - t0) / 1_000_000, baseDir);
            return new EmbeddedKafka(cluster, baseDir, "127.0.0.1:" + port,
                    sasl ? saslClientSettings(SASL_USER, SASL_PASSWORD) : Map.of());
        } catch (Exception e) {
            if (cluster != null) {
                try {
                    cluster.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            deleteQuietly(baseDir);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("the embedded Kafka broker did not start", e);
        }
    }

    /**
     * Bootstrap records a real 4.2 broker is formatted with: the latest production metadata
     * version and every production feature at its default level for that version.
     */
    static BootstrapMetadata productionBootstrapMetadata() {
        MetadataVersion version = MetadataVersion.latestProduction();
        Map<String, Short> features = Feature.PRODUCTION_FEATURES.stream()
                .collect(Collectors.toMap(Feature::featureName, f -> f.defaultLevel(version),
                        (a, b) -> a, TreeMap::new));
        return BootstrapMetadata.fromVersions(version, features, "lseq EmbeddedKafka");
    }

    /** {@code host:port} of the broker, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** A new mutable map holding {@code bootstrap.servers}; add client settings to it. */
    public Map<String, Object> clientProperties() {
        Map<String, Object> props = new HashMap<>(clientSecurity);
        props.put("bootstrap.servers", bootstrapServers);
        return props;
    }

    /** The cluster's directory, {@code target/kafka-<random>}; deleted by {@link #close()}. */
    Path baseDirectory() {
        return baseDir;
    }

    /** A new admin client; the caller closes it. */
    public Admin admin() {
        return Admin.create(clientProperties());
    }

    /** Creates a topic with replication factor 1 and waits until the broker has it. */
    public void createTopic(String name, int partitions) {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1)))
                    .all().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create topic " + name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted creating topic " + name, e);
        }
    }

    /** Sends the records with a plain (non-transactional) producer, {@code acks=all}, and waits for every ack. */
    public void produce(String topic, List<ProducerRecord<byte[], byte[]>> records) {
        Map<String, Object> props = clientProperties();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
            for (ProducerRecord<byte[], byte[]> record : records) {
                if (!record.topic().equals(topic)) {
                    throw new IllegalArgumentException(
                            "record for topic " + record.topic() + " passed to produce(" + topic + ")");
                }
                acks.add(producer.send(record));
            }
            producer.flush();
            for (Future<RecordMetadata> ack : acks) {
                ack.get();
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot produce to " + topic, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted producing to " + topic, e);
        }
    }

    /**
     * Reads every partition of {@code topic} from the beginning until at least {@code atLeast}
     * records have arrived or {@code timeout} has passed; returns what it read either way (the
     * caller asserts on it). No consumer group: partitions are assigned, nothing is committed.
     *
     * @param readCommitted {@code read_committed} (only committed transactional records) rather
     *                      than {@code read_uncommitted} (aborted ones too)
     */
    public List<ConsumerRecord<byte[], byte[]>> consumeAll(
            String topic, boolean readCommitted, int atLeast, Duration timeout) {
        return consume(topic, readCommitted, timeout, null, atLeast);
    }

    /**
     * Reads every partition of {@code topic} from the beginning until no new record has arrived
     * for {@code quiet} (or {@code timeout} has passed), and returns what it read.
     */
    public List<ConsumerRecord<byte[], byte[]>> consumeUntilQuiet(
            String topic, boolean readCommitted, Duration quiet, Duration timeout) {
        return consume(topic, readCommitted, timeout, quiet, Integer.MAX_VALUE);
    }

    private List<ConsumerRecord<byte[], byte[]>> consume(
            String topic, boolean readCommitted, Duration timeout, Duration quiet, int atLeast) {
        Map<String, Object> props = clientProperties();
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, readCommitted ? "read_committed" : "read_uncommitted");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());

        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<PartitionInfo> partitions = consumer.partitionsFor(topic, timeout);
            if (partitions == null || partitions.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist");
            }
            List<TopicPartition> assignment = partitions.stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition()))
                    .toList();
            consumer.assign(assignment);
            consumer.seekToBeginning(assignment);

            long lastArrival = System.nanoTime();
            while (out.size() < atLeast) {
                long now = System.nanoTime();
                if (now >= deadline || (quiet != null && now - lastArrival >= quiet.toNanos())) {
                    break;
                }
                long wait = Math.min(deadline - now, TimeUnit.MILLISECONDS.toNanos(100));
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofNanos(Math.max(wait, 1)));
                if (!batch.isEmpty()) {
                    batch.forEach(out::add);
                    lastArrival = System.nanoTime();
                }
            }
        }
        return out;
    }

    /** Stops the broker and controller and deletes the cluster's directories. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            cluster.close();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("error stopping the embedded Kafka broker", e);
        } finally {
            deleteQuietly(baseDir);
        }
    }

    /** {@code target/} of the tests module: the parent of {@code target/test-classes}. */
    private static Path targetDirectory() {
        try {
            Path classes = Path.of(EmbeddedKafka.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(classes) && classes.getParent() != null
                    && classes.getParent().getFileName().toString().equals("target")) {
                return classes.getParent();
            }
        } catch (URISyntaxException | RuntimeException e) {
            // fall through to the working directory
        }
        return Path.of("target").toAbsolutePath();
    }

    private static void deleteQuietly(Path dir) {
        try {
            Utils.delete(dir.toFile());
        } catch (IOException e) {
            // best effort: it is under target/
        }
    }

    /**
     * JUnit 5 extension: one broker for all tests of a class, started before the first and
     * closed after the last. Register it in a static field with {@code @RegisterExtension}.
     */
    public static final class PerClass implements BeforeAllCallback, AfterAllCallback {
        private EmbeddedKafka kafka;

        @Override
        public void beforeAll(ExtensionContext context) {
            kafka = start();
        }

        @Override
        public void afterAll(ExtensionContext context) {
            if (kafka != null) {
                kafka.close();
                kafka = null;
            }
        }

        /** The running broker; only between beforeAll and afterAll. */
        public EmbeddedKafka kafka() {
            if (kafka == null) {
                throw new IllegalStateException("the embedded Kafka broker is not running");
            }
            return kafka;
        }
    }
}
