package io.lseq.tests.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code deploy/local/kafka.sh} starts a broker as a separate process that a Kafka client can
 * use, and {@code stop --clean} removes it and its data. It runs on free ports with its run
 * directory under {@code tests/target/}, so it does not touch a broker a developer may have on
 * 9092. Whatever happens, the broker process is killed afterwards.
 */
class KafkaScriptTest {

    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(50);

    private Path repoRoot;
    private Path runDir;
    private int port;
    private int controllerPort;
    /** The broker's pid once known, so that it can be killed even if the script cannot stop it. */
    private volatile long brokerPid = -1;
    private Thread killOnExit;

    @BeforeEach
    void setUp() throws IOException {
        repoRoot = LocalProcesses.repoRoot(KafkaScriptTest.class);
        assertTrue(Files.isRegularFile(script()), "no " + script());
        runDir = LocalProcesses.newRunDirectory(KafkaScriptTest.class, "kafka-script-");
        port = LocalProcesses.freePort();
        controllerPort = LocalProcesses.freePortOtherThan(port);
        killOnExit = LocalProcesses.killOnExit("kill-kafka-script-broker", this::killBroker);
    }

    @AfterEach
    void tearDown() throws Exception {
        Thread.interrupted(); // a timed-out test leaves the flag set; the cleanup must still run
        try {
            if (runDir != null) {
                Result stop = run("stop", "--clean");
                assertEquals(0, stop.exitCode(), () -> "stop --clean failed:\n" + stop.output());
            }
        } finally {
            boolean wasAlive = killBroker();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            if (runDir != null) {
                Utils.delete(runDir.toFile());
            }
            assertFalse(wasAlive, "the broker (pid " + brokerPid + ") survived stop --clean; killed it");
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS) // backstop; every step has its own bound
    void startProduceConsumeStop() throws Exception {
        long t0 = System.nanoTime();

        Result start = run("start");
        brokerPid = readPid().orElse(-1L);
        assertEquals(0, start.exitCode(), () -> "start failed:\n" + start.output());
        assertTrue(brokerPid > 0, "no pid file after start");
        assertTrue(ProcessHandle.of(brokerPid).map(ProcessHandle::isAlive).orElse(false), "broker not alive");
        long startedMs = (System.nanoTime() - t0) / 1_000_000;

        Result again = run("start");
        assertEquals(0, again.exitCode(), again.output());
        assertTrue(again.output().contains("already running"), again.output());

        Result status = run("status");
        assertEquals(0, status.exitCode(), status.output());
        assertTrue(status.output().startsWith("running"), status.output());

        String bootstrap = "127.0.0.1:" + port;
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic("script-smoke", 1, (short) 1))).all().get(20, TimeUnit.SECONDS);
        }

        Map<String, Object> producerProps = Map.of(
                "bootstrap.servers", bootstrap,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 15_000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        RecordMetadata sent;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps)) {
            sent = producer.send(new ProducerRecord<>("script-smoke", "k", "hello from kafka.sh")).get(20, TimeUnit.SECONDS);
        }

        Map<String, Object> consumerProps = Map.of(
                "bootstrap.servers", bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps)) {
            TopicPartition tp = new TopicPartition("script-smoke", sent.partition());
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (got.isEmpty() && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            }
        }
        assertEquals(1, got.size(), "records read back");
        assertEquals("k", got.get(0).key());
        assertEquals("hello from kafka.sh", got.get(0).value());

        Result stop = run("stop", "--clean");
        assertEquals(0, stop.exitCode(), stop.output());
        assertTrue(ProcessHandle.of(brokerPid).map(ph -> {
            try {
                return ph.onExit().get(5, TimeUnit.SECONDS) != null;
            } catch (Exception e) {
                return false;
            }
        }).orElse(true), "broker still alive after stop");
        assertFalse(Files.exists(runDir.resolve("data")), "stop --clean left the data");

        Result stopped = run("status");
        assertEquals(3, stopped.exitCode(), stopped.output());
        assertEquals("stopped", stopped.output().strip());

        long totalMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("kafka.sh: started in %d ms, whole test %d ms%n", startedMs, totalMs);
        assertTrue(totalMs < 60_000, "took " + totalMs + " ms");
    }

    /** Runs kafka.sh with this test's ports and run dir (see {@link LocalProcesses#runScript}). */
    private Result run(String... args) throws IOException, InterruptedException {
        Map<String, String> env = Map.of(
                "KAFKA_PORT", Integer.toString(port),
                "KAFKA_CONTROLLER_PORT", Integer.toString(controllerPort),
                "KAFKA_RUN_DIR", runDir.toString(),
                "KAFKA_HEAP", "-Xmx256m",
                "KAFKA_START_TIMEOUT", "40");
        return LocalProcesses.runScript(script(), repoRoot, env, SCRIPT_TIMEOUT, runDir.getParent(), "kafka-script-", args);
    }

    private Optional<Long> readPid() {
        return LocalProcesses.readPid(runDir.resolve("kafka.pid"));
    }

    /** Kills the broker if it is still alive; true if it was. */
    private boolean killBroker() {
        long pid = brokerPid;
        if (pid <= 0) {
            pid = runDir == null ? -1 : readPid().orElse(-1L);
        }
        if (pid <= 0) {
            return false;
        }
        return !LocalProcesses.kill(List.of(pid), "kafka.Kafka").isEmpty();
    }

    private Path script() {
        return repoRoot.resolve("deploy/local/kafka.sh");
    }
}
