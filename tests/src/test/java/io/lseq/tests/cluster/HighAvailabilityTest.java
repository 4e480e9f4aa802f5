package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.CliRunner;
import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
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
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults beyond a TaskManager, on processes started by the deploy/local scripts: a ZooKeeper
 * server ({@code zookeeper.sh}), a Kafka broker ({@code kafka.sh}) and a Flink session cluster
 * with two JobManagers in ZooKeeper high availability and two TaskManagers ({@code flink.sh start
 * --jobmanagers 2 --taskmanagers 2}). 200,000 events over 2,000 keys arrive in ten batches while
 *
 * <ul>
 *   <li>the leading JobManager is killed with SIGKILL (the standby takes over and restores the
 *       job from its last checkpoint; the killed one is restarted as the new standby), or
 *   <li>the Kafka broker is killed with SIGKILL and restarted on the same data.
 * </ul>
 *
 * <p>Either way the committed (read_committed) output holds every (key, seq) exactly once, with
 * the scores of {@code lseq score}. Tagged {@code faults}: run with {@code mvn verify -pl tests
 * -Pfaults -Dtest=HighAvailabilityTest} (about 5-6 minutes on 2 busy cores).
 */
@Tag("faults")
class HighAvailabilityTest {
    static final int KEYS = 2_000;
    static final int EVENTS = 200_000;
    static final int BATCHES = 10;

    private static Path repoRoot;
    private static Path runDir;
    private static int restPort;
    private static int rpcPort;
    private static int zkPort;
    private static int kafkaPort;
    private static int controllerPort;
    private static Thread killOnExit;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        repoRoot = LocalProcesses.repoRoot(HighAvailabilityTest.class);
        runDir = LocalProcesses.newRunDirectory(HighAvailabilityTest.class, "ha-");
        killOnExit = LocalProcesses.killOnExit("kill-ha-test-processes", HighAvailabilityTest::killAll);
        // JobManager 2 listens on restPort + 1.
        do {
            restPort = LocalProcesses.freePort();
        } while (!portFree(restPort + 1));
        rpcPort = LocalProcesses.freePortOtherThan(restPort);
        zkPort = LocalProcesses.freePort();
        kafkaPort = LocalProcesses.freePort();
        controllerPort = LocalProcesses.freePortOtherThan(kafkaPort);
        Result zk = script("zookeeper.sh", "start");
        assertEquals(0, zk.exitCode(), zk.output());
        Result kafka = script("kafka.sh", "start");
        assertEquals(0, kafka.exitCode(), kafka.output());
        Result flink = script("flink.sh", "start", "--jobmanagers", "2", "--taskmanagers", "2");
        assertEquals(0, flink.exitCode(), flink.output());
        System.out.println("HighAvailabilityTest: " + zk.output().strip() + " | " + kafka.output().strip() + " | "
                + flink.output().strip());
    }

    @AfterAll
    static void stop() throws Exception {
        if (runDir == null) {
            return;
        }
        try {
            script("flink.sh", "stop");
            script("kafka.sh", "stop");
            script("zookeeper.sh", "stop");
            // The logs of the last run stay in tests/target/ha-last-logs (the run dir is deleted).
            Path keep = LocalProcesses.targetDirectory(HighAvailabilityTest.class).resolve("ha-last-logs");
            LocalProcesses.deleteRecursively(keep);
            Files.createDirectories(keep);
            try (var files = Files.walk(runDir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String n = f.getFileName().toString();
                    // Not Kafka's segments (data/<topic>/*.log) nor ZooKeeper's data.
                    if ((n.endsWith(".log") || n.endsWith(".out")) && !runDir.relativize(f).toString().contains("data/")) {
                        Files.copy(f, keep.resolve(runDir.relativize(f).toString().replace('/', '_')));
                    }
                }
            }
        } finally {
            killAll();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            LocalProcesses.deleteRecursively(runDir);
        }
    }

    @Test
    @Timeout(value = 480, unit = TimeUnit.SECONDS)
    void killingTheLeadingJobManagerLosesAndRepeatsNothing() throws Exception {
        runWithFault("jm", (id, log) -> {
            Result leader = script("flink.sh", "leader");
            assertEquals(0, leader.exitCode(), leader.output());
            String[] f = leader.output().strip().split("\\s+");
            int survivorPort = f[0].equals("1") ? restPort + 1 : restPort;
            long k0 = System.nanoTime();
            Result kill = script("flink.sh", "stop-jobmanager", "--kill");
            assertEquals(0, kill.exitCode(), kill.output());
            long runningMs = awaitTasksRunningAgain(id, survivorPort, k0, null);
            Result newLeader = script("flink.sh", "leader");
            log.add(String.format("killed leading JobManager %s (pid %s); JobManager %s leads; all tasks running "
                    + "again after %.1f s", f[0], f[1], newLeader.output().strip().split("\\s+")[0], runningMs / 1e3));
            Result restart = script("flink.sh", "start-jobmanager");
            assertEquals(0, restart.exitCode(), restart.output());
            log.add("restarted it as standby: " + restart.output().strip());
        });
    }

    @Test
    @Timeout(value = 480, unit = TimeUnit.SECONDS)
    void killingTheKafkaBrokerLosesAndRepeatsNothing() throws Exception {
        runWithFault("broker", (id, log) -> {
            long pid = LocalProcesses.readPid(runDir.resolve("kafka/kafka.pid")).orElseThrow();
            long k0 = System.nanoTime();
            // The run dir is in the broker's first JVM flags; "kafka.Kafka" comes after a classpath
            // longer than what ProcessHandle shows of a command line.
            List<Long> killed = LocalProcesses.kill(List.of(pid), runDir.resolve("kafka").toString());
            assertEquals(List.of(pid), killed);
            Thread.sleep(3000);
            Result restart = script("kafka.sh", "start");
            assertEquals(0, restart.exitCode(), restart.output());
            double upS = (System.nanoTime() - k0) / 1e9;
            // The tasks may ride out a short outage (the Kafka clients retry) or fail and restart.
            long runningMs = awaitTasksRunningAgain(id, anyRestPort(), k0, Duration.ofSeconds(30));
            log.add(String.format("killed the broker (pid %d), restarted it after 3 s (answering %.1f s after the "
                    + "kill); %s", pid, upS, runningMs < 0 ? "the tasks kept running (no restart seen)"
                            : String.format("all tasks running again %.1f s after the kill", runningMs / 1e3)));
        });
    }

    interface Fault {
        void inject(String jobId, List<String> log) throws Exception;
    }

    /**
     * Runs the job over ten batches of events (topics {@code name-in}, {@code name-out}), injects
     * the fault after a random batch among the 3rd to 5th, and checks the committed output.
     */
    private void runWithFault(String name, Fault fault) throws Exception {
        Path jar = repoRoot.resolve("cli/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        String in = name + "-in";
        String out = name + "-out";
        createTopics(Map.of(in, 4, out, 4));
        Path model = repoRoot.resolve("examples/models/reference-lru");
        SplittableRandom rnd = new SplittableRandom(2026);
        List<String> events = new ArrayList<>(EVENTS);
        for (int i = 0; i < EVENTS; i++) {
            events.add("{\"key\":\"k" + rnd.nextInt(KEYS) + "\",\"token\":" + rnd.nextInt(512) + "}");
        }
        Path file = Files.write(tmp.resolve("events.jsonl"), events);

        String id = submit(jar, model, in, out, name);
        long t0 = System.nanoTime();
        long seed = System.nanoTime();
        SplittableRandom moments = new SplittableRandom(seed);
        int faultAfter = 2 + moments.nextInt(3);
        List<String> log = new ArrayList<>();
        for (int b = 0; b < BATCHES; b++) {
            List<ProducerRecord<byte[], byte[]>> batch = new ArrayList<>();
            for (String e : events.subList(b * EVENTS / BATCHES, (b + 1) * EVENTS / BATCHES)) {
                String key = e.substring(8, e.indexOf('"', 8));
                batch.add(new ProducerRecord<>(in, key.getBytes(UTF_8), e.getBytes(UTF_8)));
            }
            produce(in, batch);
            if (b == faultAfter) {
                Thread.sleep(moments.nextInt(1500));
                fault.inject(id, log);
            } else {
                Thread.sleep(1500);
            }
        }
        List<ConsumerRecord<byte[], byte[]>> records = consume(out, EVENTS, Duration.ofSeconds(240), Duration.ofSeconds(5));
        double seconds = (System.nanoTime() - t0) / 1e9;
        cancel(id);
        System.out.printf("HighAvailabilityTest %s (seed %d): %,d events over %,d keys, fault after batch %d: %s; "
                + "%,d committed scores read after %.1f s%n", name, seed, EVENTS, KEYS, faultAfter + 1, log,
                records.size(), seconds);

        Map<String, Score> got = new LinkedHashMap<>();
        int duplicates = 0;
        for (ConsumerRecord<byte[], byte[]> r : records) {
            Score s = Json.parseScore(new String(r.value(), UTF_8));
            if (got.put(s.key() + "/" + s.seq(), s) != null) {
                duplicates++;
            }
        }
        assertEquals(0, duplicates, "duplicated (key, seq)");
        Map<String, Score> want = new HashMap<>();
        Path ref = tmp.resolve("ref.jsonl");
        assertEquals(0, Main.run(new String[] {"score", "--model", model.toString(), "--input", file.toString(),
            "--output", ref.toString(), "--quiet"}));
        for (String line : Files.readAllLines(ref)) {
            Score s = Json.parseScore(line);
            want.put(s.key() + "/" + s.seq(), s);
        }
        long lost = want.keySet().stream().filter(k -> !got.containsKey(k)).count();
        assertEquals(0, lost, "lost (key, seq)");
        assertEquals(want.keySet(), got.keySet(), "every (key, seq) exactly once");
        for (Map.Entry<String, Score> e : want.entrySet()) {
            assertArrayEquals(e.getValue().values(), got.get(e.getKey()).values(), e.getKey());
        }
    }

    private String submit(Path jar, Path model, String in, String out, String name) {
        String bootstrap = "127.0.0.1:" + kafkaPort;
        System.setProperty("lseq.job.jar", jar.toString());
        try {
            CliRunner.Result r = CliRunner.run("run", "--jobmanager", "127.0.0.1:" + anyRestPort(), "--model",
                    model.toString(), "--source", "kafka://" + bootstrap + "/" + in,
                    "--sink", "kafka://" + bootstrap + "/" + out, "--parallelism", "4", "--checkpoint-interval", "1s",
                    "--group-id", "ha-" + name, "--transactional-id-prefix", "ha-" + name);
            assertEquals(0, r.status(), r.err());
            String id = r.out().strip();
            assertTrue(id.matches("[0-9a-f]{32}"), id);
            return id;
        } finally {
            System.clearProperty("lseq.job.jar");
        }
    }

    /** A JobManager REST port that answers (any JobManager serves the leader's answers). */
    private int anyRestPort() {
        for (int port : List.of(restPort, restPort + 1)) {
            try {
                if (get(port, "/overview").statusCode() == 200) {
                    return port;
                }
            } catch (Exception e) {
                // try the other
            }
        }
        return restPort;
    }

    /**
     * Milliseconds from the fault until every task runs again, after some stopped (or the REST
     * endpoint failed to answer while no JobManager led); -1 if {@code noRestartAfter} is given
     * and every task ran throughout that long from this call.
     */
    private long awaitTasksRunningAgain(String id, int port, long faultNanos, Duration noRestartAfter)
            throws Exception {
        boolean left = false;
        String last = "";
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            String body;
            try {
                HttpResponse<String> r = get(port, "/jobs/" + id);
                body = r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
            } catch (Exception e) {
                body = e.toString();
            }
            last = body.length() > 400 ? body.substring(0, 400) : body;
            if (!ClusterFailureTest.allRunning(body)) {
                left = true;
            } else if (left) {
                return (System.nanoTime() - faultNanos) / 1_000_000;
            } else if (noRestartAfter != null && System.nanoTime() - start > noRestartAfter.toNanos()) {
                return -1;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " did not recover within 180 s; last /jobs/<id>: " + last);
    }

    private void cancel(String id) throws Exception {
        http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + anyRestPort() + "/jobs/" + id + "?mode=cancel"))
                .method("PATCH", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString(UTF_8));
    }

    // --- Kafka clients of the broker process ------------------------------------------------------

    private static Map<String, Object> clientProperties() {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", "127.0.0.1:" + kafkaPort);
        return props;
    }

    private static void createTopics(Map<String, Integer> topics) throws Exception {
        try (Admin admin = Admin.create(clientProperties())) {
            List<NewTopic> list = new ArrayList<>();
            topics.forEach((t, n) -> list.add(new NewTopic(t, n, (short) 1)));
            admin.createTopics(list).all().get(60, TimeUnit.SECONDS);
        }
    }

    private static void produce(String topic, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        Map<String, Object> props = clientProperties();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
            for (ProducerRecord<byte[], byte[]> r : records) {
                acks.add(producer.send(r));
            }
            producer.flush();
            for (Future<RecordMetadata> ack : acks) {
                ack.get(120, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * Reads every partition of {@code topic} read_committed from the beginning until
     * {@code atLeast} records have arrived and then nothing more for {@code quiet}, or until
     * {@code timeout}.
     */
    private static List<ConsumerRecord<byte[], byte[]>> consume(String topic, int atLeast, Duration timeout,
            Duration quiet) {
        Map<String, Object> props = clientProperties();
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> parts = consumer.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long lastArrival = System.nanoTime();
            while (System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(200));
                if (!batch.isEmpty()) {
                    batch.forEach(out::add);
                    lastArrival = System.nanoTime();
                } else if (out.size() >= atLeast && System.nanoTime() - lastArrival >= quiet.toNanos()) {
                    break;
                }
            }
        }
        return out;
    }

    // --- Processes ---------------------------------------------------------------------------------

    private static boolean portFree(int port) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static Result script(String name, String... args) throws Exception {
        Map<String, String> env = Map.ofEntries(
                Map.entry("FLINK_REST_PORT", Integer.toString(restPort)),
                Map.entry("FLINK_RPC_PORT", Integer.toString(rpcPort)),
                Map.entry("FLINK_RUN_DIR", runDir.resolve("flink").toString()),
                Map.entry("FLINK_HA_ZOOKEEPER", "127.0.0.1:" + zkPort),
                Map.entry("FLINK_PROMETHEUS_PORTS", (restPort + 10) + "-" + (restPort + 40)),
                Map.entry("FLINK_START_TIMEOUT", "120"),
                Map.entry("ZOOKEEPER_PORT", Integer.toString(zkPort)),
                Map.entry("ZOOKEEPER_RUN_DIR", runDir.resolve("zookeeper").toString()),
                Map.entry("KAFKA_PORT", Integer.toString(kafkaPort)),
                Map.entry("KAFKA_CONTROLLER_PORT", Integer.toString(controllerPort)),
                Map.entry("KAFKA_RUN_DIR", runDir.resolve("kafka").toString()));
        return LocalProcesses.runScript(repoRoot.resolve("deploy/local").resolve(name), repoRoot, env,
                Duration.ofSeconds(150), runDir.getParent(), "ha-script-", args);
    }

    private static void killAll() {
        if (runDir == null) {
            return;
        }
        for (String dir : List.of("flink", "kafka", "zookeeper")) {
            LocalProcesses.kill(LocalProcesses.readPids(runDir.resolve(dir)), runDir.resolve(dir).toString());
        }
    }
}
