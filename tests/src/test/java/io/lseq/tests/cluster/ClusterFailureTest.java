package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import io.lseq.cli.CliRunner;
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
 * by Kafka.
 *
 * <ul>
 *   <li>200,000 events over 2,000 keys arrive in batches while a TaskManager is killed with
 *       SIGKILL twice, at random moments, and restarted each time. The committed
 *       (read_committed) output holds every (key, seq) exactly once, with the scores of
 *       {@code lseq score}.
 *   <li>{@code lseq stop} with a savepoint while events arrive, and {@code lseq run
 *       --from-savepoint}: nothing lost or repeated; then an upgrade to a retrained model of the
 *       same architecture carries every key's state over; a model of another architecture is
 *       refused before submission, and accepted with {@code --reset-state}.
 *   <li>Against a broker that requires SASL/PLAIN, the password appears in no log file of the
 *       cluster and in none of its REST answers about the job.
 * </ul>
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
    private static ProcessCluster cluster;
    private static Path runDir;
    private static int restPort;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(ClusterFailureTest.class);
        cluster = ProcessCluster.start(ClusterFailureTest.class, "flink-failure-", 2, Map.of());
        runDir = cluster.runDir();
        restPort = cluster.restPort();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Timeout(value = 420, unit = TimeUnit.SECONDS)
    void killingTaskManagersTwiceLosesAndRepeatsNothing() throws Exception {
        Path jar = repoRoot.resolve("cli/target/lseq-job.jar");
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

    static final String LRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":16},\"post\":\"glu\"},"
            + "{\"mixer\":{\"type\":\"lru\",\"d_state\":16},\"post\":\"glu\"}]");
    static final String GRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"gru\",\"d_state\":16}}]");

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void stopResumeAndUpgradeLoseAndRepeatNothing() throws Exception {
        assumeTrue(Files.isRegularFile(jobJar()), "the job jar is built by mvn package (mvn verify)");
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("up-in", 2);
        for (String t : List.of("up-out", "up-out-retrained", "up-out-other")) {
            kafka.createTopic(t, 2);
        }
        Path first = TestModels.writeRandom(tmp.resolve("lru-first"), LRU, 1);
        Path retrained = TestModels.writeRandom(tmp.resolve("lru-retrained"), LRU, 2);
        Path other = TestModels.writeRandom(tmp.resolve("gru"), GRU, 3);
        SplittableRandom rnd = new SplittableRandom(77);
        List<List<String>> phases = new ArrayList<>();
        for (int p = 0; p < 5; p++) {
            List<String> events = new ArrayList<>();
            for (int i = 0; i < 4000; i++) {
                events.add("{\"key\":\"u" + rnd.nextInt(200) + "\",\"token\":" + rnd.nextInt(32) + "}");
            }
            phases.add(events);
        }
        String bootstrap = kafka.bootstrapServers();
        String[] io = {"--source", "kafka://" + bootstrap + "/up-in", "--group-id", "upgrade",
            "--transactional-id-prefix", "upgrade", "--parallelism", "2", "--checkpoint-interval", "1s"};

        // 1. Stop with a savepoint while the second batch is still being scored; resume.
        String job = submit(first, io, "--sink", "kafka://" + bootstrap + "/up-out");
        produce(kafka, "up-in", phases.get(0));
        kafka.consumeAll("up-out", true, 4000, Duration.ofSeconds(120));
        produce(kafka, "up-in", phases.get(1));
        Thread.sleep(new SplittableRandom().nextInt(300));
        long t0 = System.nanoTime();
        String savepoint = stop(job);
        double stopSeconds = (System.nanoTime() - t0) / 1e9;
        produce(kafka, "up-in", phases.get(2));
        t0 = System.nanoTime();
        job = submit(first, io, "--sink", "kafka://" + bootstrap + "/up-out", "--from-savepoint", savepoint);
        List<String> history = concat(phases.subList(0, 3));
        Map<String, Score> got = committed(kafka, "up-out", history.size());
        double resumeSeconds = (System.nanoTime() - t0) / 1e9;
        assertSameScores(expected(first, List.of(), history), got, "stop and resume");
        System.out.printf("stop with savepoint: %.1f s; resume until all %,d scores committed: %.1f s%n", stopSeconds,
                history.size(), resumeSeconds);

        // 2. A retrained model of the same architecture continues every key from its state.
        savepoint = stop(job);
        produce(kafka, "up-in", phases.get(3));
        job = submit(retrained, io, "--sink", "kafka://" + bootstrap + "/up-out-retrained", "--from-savepoint", savepoint);
        got = committed(kafka, "up-out-retrained", 4000);
        Map<String, Score> carried = expected(first, history, phases.get(3), retrained);
        assertSameScores(carried, got, "upgrade to the retrained model");
        Map<String, Score> fresh = expected(retrained, List.of(), phases.get(3));
        assertTrue(fresh.keySet().stream().noneMatch(got::containsKey), "seq continues where the old job stopped");

        // 3. Another architecture: refused before submission; --reset-state starts every key afresh.
        savepoint = stop(job);
        produce(kafka, "up-in", phases.get(4));
        List<String> argv = new ArrayList<>(List.of("run", "--jobmanager", "127.0.0.1:" + restPort, "--model",
                other.toString(), "--sink", "kafka://" + bootstrap + "/up-out-other", "--from-savepoint", savepoint));
        argv.addAll(List.of(io));
        CliRunner.Result refused = CliRunner.run(argv.toArray(new String[0]));
        assertEquals(1, refused.status(), refused.err());
        assertTrue(refused.err().contains("another architecture") && refused.err().contains("--reset-state"),
                refused.err());
        assertTrue(get("/jobs/overview").body().split("\"state\":\"RUNNING\"", -1).length == 1,
                "no job runs after the refusal: " + get("/jobs/overview").body());
        job = submit(other, io, "--sink", "kafka://" + bootstrap + "/up-out-other", "--from-savepoint", savepoint,
                "--reset-state");
        got = committed(kafka, "up-out-other", 4000);
        assertSameScores(expected(other, List.of(), phases.get(4)), got, "--reset-state");
        cancel(job);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void saslPasswordAppearsInNoLogAndNoRestAnswer() throws Exception {
        assumeTrue(Files.isRegularFile(jobJar()), "the job jar is built by mvn package (mvn verify)");
        try (EmbeddedKafka kafka = EmbeddedKafka.startSaslPlain()) {
            kafka.createTopic("sasl-in", 1);
            kafka.createTopic("sasl-out", 1);
            List<String> events = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                events.add("{\"key\":\"s" + (i % 7) + "\",\"token\":" + (i % 512) + "}");
            }
            produce(kafka, "sasl-in", events);
            List<String> argv = new ArrayList<>(List.of("--source", "kafka://" + kafka.bootstrapServers() + "/sasl-in",
                    "--checkpoint-interval", "1s", "--transactional-id-prefix", "sasl"));
            EmbeddedKafka.saslClientSettings(EmbeddedKafka.SASL_USER, EmbeddedKafka.SASL_PASSWORD)
                    .forEach((k, v) -> argv.addAll(List.of("--kafka-property", k + "=" + v)));
            String job = submit(repoRoot.resolve("examples/models/reference-lru"), argv.toArray(new String[0]),
                    "--sink", "kafka://" + kafka.bootstrapServers() + "/sasl-out");
            assertEquals(100, kafka.consumeAll("sasl-out", true, 100, Duration.ofSeconds(90)).size());
            StringBuilder rest = new StringBuilder();
            for (String path : List.of("/jobs/" + job, "/jobs/" + job + "/config", "/jobs/" + job + "/exceptions",
                    "/jobs/" + job + "/plan", "/jobmanager/config")) {
                rest.append(get(path).body()).append('\n');
            }
            cancel(job);
            assertFalse(rest.toString().contains(EmbeddedKafka.SASL_PASSWORD), "a REST answer shows the password");
            StringBuilder logs = new StringBuilder();
            try (var files = Files.walk(runDir.resolve("log"))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    logs.append(Files.readString(f, java.nio.charset.StandardCharsets.ISO_8859_1));
                }
            }
            // The Kafka clients did log their configuration, with the JAAS line hidden.
            assertTrue(logs.toString().contains("sasl.mechanism = PLAIN"), "the clients' configuration is logged");
            assertFalse(logs.toString().contains(EmbeddedKafka.SASL_PASSWORD), "a log file shows the password");
        }
    }

    private static Path jobJar() {
        return repoRoot.resolve("cli/target/lseq-job.jar");
    }

    private static void produce(EmbeddedKafka kafka, String topic, List<String> events) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (String e : events) {
            String key = e.substring(8, e.indexOf('"', 8)); // {"key":"...
            records.add(new ProducerRecord<>(topic, key.getBytes(UTF_8), e.getBytes(UTF_8)));
        }
        kafka.produce(topic, records);
    }

    private static List<String> concat(List<List<String>> parts) {
        List<String> all = new ArrayList<>();
        parts.forEach(all::addAll);
        return all;
    }

    /** Waits for {@code n} committed scores, then for quiet, and returns them by key/seq; fails on a duplicate. */
    private static Map<String, Score> committed(EmbeddedKafka kafka, String topic, int n) {
        kafka.consumeAll(topic, true, n, Duration.ofSeconds(120));
        Map<String, Score> got = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : kafka.consumeUntilQuiet(topic, true, Duration.ofSeconds(2),
                Duration.ofSeconds(30))) {
            Score s = Json.parseScore(new String(r.value(), UTF_8));
            assertTrue(got.put(s.key() + "/" + s.seq(), s) == null, "duplicate " + s.key() + "/" + s.seq() + " in " + topic);
        }
        return got;
    }

    /**
     * The scores of {@code events} by key/seq when each key first consumed {@code history} with
     * {@code models[0]} and then scores {@code events} with the last model.
     */
    private static Map<String, Score> expected(Path historyModel, List<String> history, List<String> events,
            Path... scoringModel) {
        Model before = Model.load(historyModel);
        Model after = scoringModel.length == 0 ? before : Model.load(scoringModel[0]);
        EventParser parser = new EventParser(after.config().input());
        Scorer a = before.newScorer();
        Scorer b = after.newScorer();
        float[] out = new float[Math.max(before.outputSize(), after.outputSize())];
        Map<String, KeyState> states = new HashMap<>();
        for (String e : history) {
            Event ev = parse(parser, e);
            a.stepToken(states.computeIfAbsent(ev.key(), k -> before.newState()), ev.token(), out);
        }
        Map<String, Score> want = new HashMap<>();
        for (String e : events) {
            Event ev = parse(parser, e);
            KeyState st = states.computeIfAbsent(ev.key(), k -> after.newState());
            long seq = after.nextSeq(st);
            b.stepToken(st, ev.token(), out);
            want.put(ev.key() + "/" + seq, new Score(ev.key(), seq, null, null, after.config().name(),
                    java.util.Arrays.copyOf(out, after.outputSize()), false));
        }
        return want;
    }

    private static Event parse(EventParser parser, String line) {
        try {
            return parser.parse(line, null);
        } catch (InvalidEventException e) {
            throw new AssertionError(line, e);
        }
    }

    private static void assertSameScores(Map<String, Score> want, Map<String, Score> got, String what) {
        assertEquals(want.keySet(), got.keySet(), what + ": every (key, seq) exactly once");
        for (Map.Entry<String, Score> e : want.entrySet()) {
            assertArrayEquals(e.getValue().values(), got.get(e.getKey()).values(), what + ": " + e.getKey());
        }
    }

    /** {@code lseq run --jobmanager ...}: returns the job id. */
    private String submit(Path model, String[] common, String... more) {
        List<String> argv = new ArrayList<>(List.of("run", "--jobmanager", "127.0.0.1:" + restPort,
                "--model", model.toString()));
        argv.addAll(List.of(common));
        argv.addAll(List.of(more));
        System.setProperty("lseq.job.jar", jobJar().toString());
        try {
            CliRunner.Result r = CliRunner.run(argv.toArray(new String[0]));
            assertEquals(0, r.status(), r.err());
            String id = r.out().strip();
            assertTrue(id.matches("[0-9a-f]{32}"), id);
            return id;
        } finally {
            System.clearProperty("lseq.job.jar");
        }
    }

    /** {@code lseq stop --savepoint}: returns the savepoint's path. */
    private String stop(String job) {
        CliRunner.Result r = CliRunner.run("stop", "--jobmanager", "127.0.0.1:" + restPort, "--job", job,
                "--savepoint", tmp.resolve("savepoints").toString());
        assertEquals(0, r.status(), r.err());
        return r.out().strip();
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
        return cluster.flink(args);
    }

}
