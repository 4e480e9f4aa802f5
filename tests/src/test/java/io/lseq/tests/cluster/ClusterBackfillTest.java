package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.Model;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import io.lseq.tests.flink.ClusterBackfillKafkaTest;
import io.lseq.tests.flink.Jobs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.java.tuple.Tuple3;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lseq backfill --jobmanager} on a cluster of separate JVMs ({@code deploy/local/flink.sh},
 * a JobManager and two TaskManagers of one slot each, so that a job at parallelism 2 runs on both, on free ports, run dir under
 * {@code tests/target/}): the BATCH job writes a savepoint holding bit for bit the states of the
 * single-machine backfill, and {@code lseq run --jobmanager --from-savepoint} continues every key
 * from it. With {@code -Pfaults}: a TaskManager killed with SIGKILL during the backfill job; the
 * job restarts and the savepoint is still exactly right.
 */
class ClusterBackfillTest {
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(150);
    private static final Pattern STATE = Pattern.compile("\"state\"\\s*:\\s*\"([A-Z_]+)\"");
    private static final Pattern JOB = Pattern.compile("\"jid\"\\s*:\\s*\"([0-9a-f]{32})\"");

    private static Path repoRoot;
    private static ProcessCluster cluster;
    private static Path runDir;
    private static int restPort;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(ClusterBackfillTest.class);
        assumeTrue(Files.isRegularFile(repoRoot.resolve("cli/target/lseq-job.jar")),
                "the job jar is built by mvn package (mvn verify)");
        cluster = ProcessCluster.start(ClusterBackfillTest.class, "flink-backfill-", 2, Map.of("FLINK_PROPERTIES", "taskmanager.numberOfTaskSlots: 1"));
        runDir = cluster.runDir();
        restPort = cluster.restPort();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    /**
     * Backfill of the first 3,000 sample events on the cluster at parallelism 2, then the rest
     * streamed on the cluster from its savepoint: the states are the single-machine backfill's,
     * bit for bit, and each streamed score continues its key within the format's tolerance of the
     * float64 reference for the whole sample.
     */
    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void backfillOnTheClusterThenStreamFromItsSavepoint() throws Exception {
        List<String> all = Files.readAllLines(repoRoot.resolve("examples/events/sample.jsonl"));
        Path history = Files.write(tmp.resolve("history.jsonl"), all.subList(0, 3000));
        Path live = Files.write(tmp.resolve("live.jsonl"), all.subList(3000, all.size()));
        Path model = repoRoot.resolve("examples/models/reference-lru");

        Path savepoint = tmp.resolve("savepoint");
        long t0 = System.nanoTime();
        assertEquals(savepoint.toUri().toString(), lseq("backfill", "--model", model.toString(), "--input",
                history.toString(), "--savepoint", savepoint.toString(), "--jobmanager", "127.0.0.1:" + restPort,
                "--parallelism", "2", "--device", "cpu", "--quiet"));
        long backfillMs = (System.nanoTime() - t0) / 1_000_000;
        assertStatesEqualSingleMachine(model, history, savepoint);

        String id = lseq("run", "--jobmanager", "127.0.0.1:" + restPort, "--model", model.toString(),
                "--from-savepoint", savepoint.toString(), "--source", "file:" + live, "--sink",
                "file:" + tmp.resolve("scores"), "--checkpoint-interval", "1s");
        String state = awaitTerminal(id);
        assertEquals("FINISHED", state, () -> "job " + id + " ended " + state + "; logs in " + runDir.resolve("log"));
        Map<String, Score> got = Jobs.byKeySeq(Jobs.committedLines(tmp.resolve("scores")));
        Map<String, Score> want = Jobs.byKeySeq(Files.readAllLines(repoRoot.resolve("examples/events/sample-expected.jsonl")));
        assertEquals(all.size() - 3000, got.size(), "one score per live event");
        double worst = 0;
        for (Map.Entry<String, Score> e : got.entrySet()) {
            Score w = want.get(e.getKey());
            assertTrue(w != null, "(key, seq) " + e.getKey() + " continues its key's backfilled seq");
            worst = Math.max(worst, Math.abs(e.getValue().score() - w.score()) / (1e-4 + 1e-4 * Math.abs(w.score())));
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance");
        System.out.printf("cluster backfill of 3,000 events in %d ms (submission included), then %,d live events "
                + "from its savepoint: worst error %.4f of tolerance%n", backfillMs, got.size(), worst);
    }

    /**
     * A TaskManager killed (SIGKILL) while the backfill job runs: the job restarts on the other
     * one, and the savepoint holds exactly the single-machine backfill's states.
     */
    @Test
    @Tag("faults")
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void aTaskManagerKilledDuringTheBackfillChangesNothing() throws Exception {
        Path model = repoRoot.resolve("examples/models/reference-lru");
        SplittableRandom rnd = new SplittableRandom(11);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 600_000; i++) {
            lines.add("{\"key\":\"k" + rnd.nextInt(3000) + "\",\"token\":" + rnd.nextInt(512) + "}");
        }
        Path history = Files.write(tmp.resolve("big.jsonl"), lines);
        Path savepoint = tmp.resolve("killed");
        String uri = savepoint.toUri().toString(); // before it exists (then the URI ends in a slash)
        CompletableFuture<String> backfill = CompletableFuture.supplyAsync(() -> lseq("backfill", "--model",
                model.toString(), "--input", history.toString(), "--savepoint", savepoint.toString(), "--jobmanager",
                "127.0.0.1:" + restPort, "--parallelism", "2", "--device", "cpu", "--window", "1048576", "--quiet"));
        String id = awaitRunningJob();
        // The TaskManager running a subtask of the keyed stage (the batch path), found once that
        // stage runs: a kill elsewhere, or earlier, may hit no task of the job at all.
        String tm = awaitTaskManagerRunning(id, "backfill (batch path)");
        Result kill = flink("stop-taskmanager", tm, "--kill");
        assertEquals(0, kill.exitCode(), kill.output());
        Result again = flink("start-taskmanager");
        assertEquals(0, again.exitCode(), again.output());
        assertEquals(uri, backfill.get(JOB_TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        String exceptions = get("/jobs/" + id + "/exceptions").body();
        assertTrue(exceptions.contains("\"exceptionHistory\"") && !exceptions.contains("\"entries\":[]"),
                "the job saw the TaskManager's loss: " + exceptions);
        assertStatesEqualSingleMachine(model, history, savepoint);
    }

    /** The single-machine lseq backfill of {@code history}; its states must be the cluster savepoint's, bit for bit. */
    private void assertStatesEqualSingleMachine(Path modelDir, Path history, Path savepoint) throws Exception {
        Path single = tmp.resolve("single-" + savepoint.getFileName());
        assertEquals(0, Main.run(new String[] {"backfill", "--model", modelDir.toString(), "--input", history.toString(),
            "--savepoint", single.toString(), "--device", "cpu", "--window", "1048576", "--quiet"}));
        Model model = Model.load(modelDir);
        Map<String, Tuple3<String, Long, float[]>> want = ClusterBackfillKafkaTest.read(model, single);
        Map<String, Tuple3<String, Long, float[]>> got = ClusterBackfillKafkaTest.read(model, savepoint);
        assertEquals(want.keySet(), got.keySet());
        for (String key : want.keySet()) {
            assertEquals(want.get(key).f1, got.get(key).f1, key + " position");
            assertArrayEquals(want.get(key).f2, got.get(key).f2, key + ": not bit for bit");
        }
    }

    /** Runs an lseq command with the built job jar; returns the last line it prints on standard output. */
    private String lseq(String... argv) {
        System.setProperty("lseq.job.jar", repoRoot.resolve("cli/target/lseq-job.jar").toString());
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, UTF_8));
            exit = Main.run(argv);
        } finally {
            System.setOut(oldOut);
        }
        assertEquals(0, exit, () -> "lseq " + String.join(" ", argv) + "; logs in " + runDir.resolve("log"));
        String[] lines = out.toString(UTF_8).strip().split("\\R");
        return lines[lines.length - 1].strip();
    }

    /** The id of the job that runs now (the backfill), once it runs. */
    private String awaitRunningJob() throws Exception {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get("/jobs/overview");
            if (r.statusCode() == 200 && r.body().contains("\"state\":\"RUNNING\"")) {
                Matcher m = JOB.matcher(r.body());
                if (m.find()) {
                    return m.group(1);
                }
            }
            Thread.sleep(100);
        }
        fail("no running job after " + JOB_TIMEOUT);
        return null;
    }

    /**
     * The flink.sh id of a TaskManager on which a subtask of the vertex whose name starts with
     * {@code vertex} runs ({@code /jobs/ID/vertices/VID/taskmanagers}; the REST id is found in
     * that TaskManager's log).
     */
    private String awaitTaskManagerRunning(String job, String vertex) throws Exception {
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        String vid = null;
        String last = "";
        while (System.nanoTime() < deadline) {
            if (vid == null) {
                for (JsonNode v : json.readTree(get("/jobs/" + job).body()).path("vertices")) {
                    if (v.path("name").asText().startsWith(vertex)) {
                        vid = v.path("id").asText();
                    }
                }
            } else {
                last = get("/jobs/" + job + "/vertices/" + vid + "/taskmanagers").body();
                for (JsonNode tm : json.readTree(last).path("taskmanagers")) {
                    if (tm.path("status").asText().equals("RUNNING")) {
                        return flinkShId(tm.path("taskmanager-id").asText());
                    }
                }
            }
            Thread.sleep(50);
        }
        fail("vertex '" + vertex + "' of job " + job + " never ran on a TaskManager; last answer: " + last);
        return null;
    }

    /** The flink.sh id (N of log/taskmanager-N.log) of the TaskManager with this REST id. */
    private static String flinkShId(String restId) throws IOException {
        try (var logs = Files.list(runDir.resolve("log"))) {
            for (Path log : logs.filter(p -> p.getFileName().toString().matches("taskmanager-\\d+\\.log")).toList()) {
                if (Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1).contains(restId)) {
                    return log.getFileName().toString().replaceAll("\\D", "");
                }
            }
        }
        throw new AssertionError("no TaskManager log under " + runDir.resolve("log") + " names " + restId);
    }

    private String jobState(String id) throws Exception {
        Matcher m = STATE.matcher(get("/jobs/" + id).body());
        return m.find() ? m.group(1) : "?";
    }

    /** Polls {@code /jobs/<id>} until the job is FINISHED, FAILED or CANCELED. */
    private String awaitTerminal(String id) throws Exception {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        String state = "?";
        while (System.nanoTime() < deadline) {
            state = jobState(id);
            if (state.equals("FINISHED") || state.equals("FAILED") || state.equals("CANCELED")) {
                return state;
            }
            Thread.sleep(250);
        }
        fail("job " + id + " not finished after " + JOB_TIMEOUT + " (last state " + state + ")");
        return state;
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + path))
                .timeout(Duration.ofSeconds(10)).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString(UTF_8));
    }

    private static Result flink(String... args) throws Exception {
        return cluster.flink(args);
    }

}
