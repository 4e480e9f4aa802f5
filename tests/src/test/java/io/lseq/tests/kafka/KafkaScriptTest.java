package io.lseq.tests.kafka;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
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
        Path target = targetDirectory();
        repoRoot = target.getParent().getParent();
        assertTrue(Files.isRegularFile(script()), "no " + script());
        runDir = Files.createTempDirectory(target, "kafka-script-");
        port = freePort();
        do {
            controllerPort = freePort();
        } while (controllerPort == port);
        // If the test JVM is ended (surefire timeout, Ctrl-C), take the broker with it.
        killOnExit = new Thread(this::killBroker, "kill-kafka-script-broker");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    @AfterEach
    void tearDown() throws Exception {
        Thread.interrupted(); // a timed-out test leaves the flag set; the cleanup must still run
        try {
            if (runDir != null) {
                Result stop = run("stop", "--clean");
                assertEquals(0, stop.exitCode, () -> "stop --clean failed:\n" + stop.output);
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
        assertEquals(0, start.exitCode, () -> "start failed:\n" + start.output);
        assertTrue(brokerPid > 0, "no pid file after start");
        assertTrue(ProcessHandle.of(brokerPid).map(ProcessHandle::isAlive).orElse(false), "broker not alive");
        long startedMs = (System.nanoTime() - t0) / 1_000_000;

        Result again = run("start");
        assertEquals(0, again.exitCode, again.output);
        assertTrue(again.output.contains("already running"), again.output);

        Result status = run("status");
        assertEquals(0, status.exitCode, status.output);
        assertTrue(status.output.startsWith("running"), status.output);

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
        assertEquals(0, stop.exitCode, stop.output);
        assertTrue(ProcessHandle.of(brokerPid).map(ph -> {
            try {
                return ph.onExit().get(5, TimeUnit.SECONDS) != null;
            } catch (Exception e) {
                return false;
            }
        }).orElse(true), "broker still alive after stop");
        assertFalse(Files.exists(runDir.resolve("data")), "stop --clean left the data");

        Result stopped = run("status");
        assertEquals(3, stopped.exitCode, stopped.output);
        assertEquals("stopped", stopped.output.strip());

        long totalMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("kafka.sh: started in %d ms, whole test %d ms%n", startedMs, totalMs);
        assertTrue(totalMs < 60_000, "took " + totalMs + " ms");
    }

    private record Result(int exitCode, String output) {}

    /** Runs kafka.sh with this test's ports and run dir; output goes to a file, not a pipe the broker could hold open. */
    private Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", script().toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(runDir.getParent(), "kafka-script-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(repoRoot.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Map<String, String> env = pb.environment();
            env.put("KAFKA_PORT", Integer.toString(port));
            env.put("KAFKA_CONTROLLER_PORT", Integer.toString(controllerPort));
            env.put("KAFKA_RUN_DIR", runDir.toString());
            env.put("KAFKA_HEAP", "-Xmx256m");
            env.put("KAFKA_START_TIMEOUT", "40");
            Process process = pb.start();
            if (!process.waitFor(SCRIPT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                // The broker is a child of the script until the script returns.
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                fail("kafka.sh " + String.join(" ", args) + " did not finish in " + SCRIPT_TIMEOUT
                        + ":\n" + Files.readString(out, UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(out, UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private Optional<Long> readPid() throws IOException {
        Path pidFile = runDir.resolve("kafka.pid");
        if (!Files.isRegularFile(pidFile)) {
            return Optional.empty();
        }
        String text = Files.readString(pidFile, UTF_8).strip();
        return text.matches("\\d+") ? Optional.of(Long.parseLong(text)) : Optional.empty();
    }

    /** Kills the broker if it is still alive; true if it was. */
    private boolean killBroker() {
        long pid = brokerPid;
        if (pid <= 0) {
            try {
                pid = runDir == null ? -1 : readPid().orElse(-1L);
            } catch (IOException e) {
                pid = -1;
            }
        }
        if (pid <= 0) {
            return false;
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid)
                .filter(ProcessHandle::isAlive)
                .filter(ph -> ph.info().commandLine().map(c -> c.contains("kafka.Kafka")).orElse(true));
        if (handle.isEmpty()) {
            return false;
        }
        handle.get().destroyForcibly();
        try {
            handle.get().onExit().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            // reported by the caller's assertion
        }
        return true;
    }

    private Path script() {
        return repoRoot.resolve("deploy/local/kafka.sh");
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** {@code tests/target}: the parent of {@code target/test-classes}. */
    private static Path targetDirectory() {
        try {
            Path classes = Path.of(KafkaScriptTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return classes.getParent().toAbsolutePath();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
