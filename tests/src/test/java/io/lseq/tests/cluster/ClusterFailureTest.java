package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scoring job on the local session cluster (JobManager + 2 TaskManagers as processes), fed
 * by Kafka: 200,000 events over 2,000 keys arrive in batches while a TaskManager is killed with
 * SIGKILL twice, at random moments, and restarted each time. The committed (read_committed)
 * output holds every (key, seq) exactly once, with the scores of {@code lseq score}.
 */
class ClusterFailureTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final int KEYS = 2_000;
    static final int EVENTS = 200_000;
    static final int BATCHES = 10;
    static final Pattern STATE = Pattern.compile("\"state\"\\s*:\\s*\"([A-Z_]+)\"");
    static final Pattern STATUS_COUNTS = Pattern.compile("\"status-counts\"\\s*:\\s*\\{([^}]*)\\}");

    private static Path repoRoot;
    private static Path runDir;
    private static int restPort;
    private static int rpcPort;
    private static Thread killOnExit;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(ClusterFailureTest.class);
        runDir = LocalProcesses.newRunDirectory(ClusterFailureTest.class, "flink-failure-");
        restPort = LocalProcesses.freePort();
        rpcPort = LocalProcesses.freePortOtherThan(restPort);
        killOnExit = LocalProcesses.killOnExit("kill-failure-test-cluster", ClusterFailureTest::killCluster);
        Result start = flink("start", "--taskmanagers", "2");
        assertEquals(0, start.exitCode(), start.output());
    }

    @AfterAll
    static void stopCluster() throws Exception {
        Thread.interrupted();
        if (runDir == null) {
            return;
        }
        try {
            flink("stop", "--clean");
        } finally {
            killCluster();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            LocalProcesses.deleteRecursively(runDir);
        }
    }

    @Test
    @Timeout(value = 420, unit = TimeUnit.SECONDS)
    void killingTaskManagersTwiceLosesAndRepeatsNothing() throws Exception {
        Path jar = repoRoot.resolve("flink-jobs/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("fail-in", 4);
        kafka.createTopic("fail-out", 4);
        Path model = repoRoot.resolve("examples/models/reference-lru");
        SplittableRandom rnd = new SplittableRandom(2026);
        List<String> events = new ArrayList<>(EVENTS);
        for (int i = 0; i < EVENTS; i++) {
            events.add("{\"key\":\"k" + rnd.nextInt(KEYS) + "\",\"token\":" + rnd.nextInt(512) + "}");
        }
        Path file = Files.write(tmp.resolve("events.jsonl"), events);

        String id = submit(jar, model, kafka.bootstrapServers());
        long t0 = System.nanoTime();
        // The kill moments are random per run; the seed is printed to replay one.
        long seed = System.nanoTime();
        SplittableRandom moments = new SplittableRandom(seed);
        int killA = 2 + moments.nextInt(3);
        int killB = 6 + moments.nextInt(3);
        List<String> recoveries = new ArrayList<>();
        for (int b = 0; b < BATCHES; b++) {
            List<ProducerRecord<byte[], byte[]>> batch = new ArrayList<>();
            for (String e : events.subList(b * EVENTS / BATCHES, (b + 1) * EVENTS / BATCHES)) {
                String key = e.substring(8, e.indexOf('"', 8));
                batch.add(new ProducerRecord<>("fail-in", key.getBytes(UTF_8), e.getBytes(UTF_8)));
            }
            kafka.produce("fail-in", batch);
            if (b == killA || b == killB) {
                Thread.sleep(moments.nextInt(1500));
                long k0 = System.nanoTime();
                Result kill = flink("stop-taskmanager", "--kill");
                assertEquals(0, kill.exitCode(), kill.output());
                Result restart = flink("start-taskmanager");
                assertEquals(0, restart.exitCode(), restart.output());
                recoveries.add(String.format("%.1f s", awaitTasksRunningAgain(id, k0) / 1e3));
            } else {
                Thread.sleep(1500);
            }
        }
        List<ConsumerRecord<byte[], byte[]>> out = kafka.consumeAll("fail-out", true, EVENTS, Duration.ofSeconds(240));
        double seconds = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(3000); // anything duplicated would be committed by now
        out = kafka.consumeUntilQuiet("fail-out", true, Duration.ofSeconds(3), Duration.ofSeconds(60));
        cancel(id);
        System.out.printf("cluster failure test (seed %d): %,d events over %,d keys, TaskManager killed after batches "
                + "%d and %d; all tasks running again after %s; all output committed after %.1f s (%,.0f events/s "
                + "overall)%n", seed, EVENTS, KEYS, killA + 1, killB + 1, recoveries, seconds, EVENTS / seconds);

        Map<String, Score> got = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : out) {
            Score s = Json.parseScore(new String(r.value(), UTF_8));
            Score prev = got.put(s.key() + "/" + s.seq(), s);
            assertTrue(prev == null, "duplicate " + s.key() + "/" + s.seq());
        }
        Map<String, Score> want = new HashMap<>();
        Path ref = tmp.resolve("ref.jsonl");
        assertEquals(0, Main.run(new String[] {"score", "--model", model.toString(), "--input", file.toString(),
            "--output", ref.toString(), "--quiet"}));
        for (String line : Files.readAllLines(ref)) {
            Score s = Json.parseScore(line);
            want.put(s.key() + "/" + s.seq(), s);
        }
        assertEquals(want.keySet(), got.keySet(), "every (key, seq) exactly once");
        for (Map.Entry<String, Score> e : want.entrySet()) {
            assertArrayEquals(e.getValue().values(), got.get(e.getKey()).values(), e.getKey());
        }
    }

    private String submit(Path jar, Path model, String bootstrap) {
        System.setProperty("lseq.job.jar", jar.toString());
        PrintStream oldOut = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, UTF_8));
            int exit = Main.run(new String[] {"run", "--jobmanager", "127.0.0.1:" + restPort, "--model", model.toString(),
                "--source", "kafka://" + bootstrap + "/fail-in", "--sink", "kafka://" + bootstrap + "/fail-out",
                "--parallelism", "4", "--checkpoint-interval", "1s", "--group-id", "failure-test",
                "--transactional-id-prefix", "failure-test"});
            assertEquals(0, exit);
        } finally {
            System.setOut(oldOut);
            System.clearProperty("lseq.job.jar");
        }
        String id = buf.toString(UTF_8).strip();
        assertTrue(id.matches("[0-9a-f]{32}"), id);
        return id;
    }

    /**
     * Milliseconds from the kill until every task runs again, after some stopped (with region
     * failover the job itself may stay RUNNING while its tasks restart).
     */
    private long awaitTasksRunningAgain(String id, long killNanos) throws Exception {
        boolean left = false;
        String last = "";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            String body = get("/jobs/" + id).body();
            last = body.length() > 400 ? body.substring(0, 400) : body;
            if (!allRunning(body)) {
                left = true;
            } else if (left) {
                return (System.nanoTime() - killNanos) / 1_000_000;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " did not recover within 120 s; last /jobs/<id>: " + last);
    }

    /** Whether the job is RUNNING with every task RUNNING (from its status counts). */
    static boolean allRunning(String jobJson) {
        Matcher state = STATE.matcher(jobJson);
        Matcher counts = STATUS_COUNTS.matcher(jobJson);
        if (!state.find() || !state.group(1).equals("RUNNING") || !counts.find()) {
            return false;
        }
        int running = 0;
        for (String kv : counts.group(1).split(",")) {
            String[] p = kv.split(":");
            String status = p[0].replace("\"", "").strip();
            int n = Integer.parseInt(p[1].strip());
            if (status.equalsIgnoreCase("RUNNING")) {
                running = n;
            } else if (n != 0) {
                return false;
            }
        }
        return running > 0;
    }

    private void cancel(String id) throws Exception {
        http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + "/jobs/" + id + "?mode=cancel"))
                .method("PATCH", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString(UTF_8));
    }

    private static Result flink(String... args) throws Exception {
        Map<String, String> env = Map.of("FLINK_REST_PORT", Integer.toString(restPort),
                "FLINK_RPC_PORT", Integer.toString(rpcPort), "FLINK_RUN_DIR", runDir.toString(),
                "FLINK_START_TIMEOUT", "80");
        return LocalProcesses.runScript(repoRoot.resolve("deploy/local/flink.sh"), repoRoot, env, Duration.ofSeconds(100),
                runDir.getParent(), "flink-failure-", args);
    }

    private static void killCluster() {
        if (runDir != null) {
            LocalProcesses.kill(LocalProcesses.readPids(runDir), runDir.toString());
        }
    }
}
