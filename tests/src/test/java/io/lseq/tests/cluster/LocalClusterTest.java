package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.flink.Jobs;
import io.lseq.tests.LocalProcesses.Result;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy/local/flink.sh} starts a Flink session cluster (a JobManager and a TaskManager,
 * each its own JVM on Maven-resolved jars) that serves the web UI and runs the scoring job
 * submitted by {@code lseq run --jobmanager}. It runs on free ports with its run directory under
 * {@code tests/target/}, so it does not touch a cluster a developer may have on 8081; whatever
 * happens, its processes are stopped afterwards (and killed by a shutdown hook if the JVM ends
 * first).
 */
class LocalClusterTest {

    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(100);
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(120);
    private static final Pattern STATE = Pattern.compile("\"state\"\\s*:\\s*\"([A-Z_]+)\"");

    private static Path repoRoot;
    private static Path runDir;
    private static int restPort;
    private static int rpcPort;
    private static Thread killOnExit;
    private static long startedMs;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(LocalClusterTest.class);
        assertTrue(Files.isRegularFile(script()), "no " + script());
        runDir = LocalProcesses.newRunDirectory(LocalClusterTest.class, "flink-cluster-");
        restPort = LocalProcesses.freePort();
        rpcPort = LocalProcesses.freePortOtherThan(restPort);
        killOnExit = LocalProcesses.killOnExit("kill-local-flink-cluster", LocalClusterTest::killCluster);

        long t0 = System.nanoTime();
        Result start = run("start", "--taskmanagers", "1");
        startedMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(0, start.exitCode(), () -> "start failed:\n" + start.output());
        assertTrue(start.output().contains("http://127.0.0.1:" + restPort + "/"), start.output());
    }

    @AfterAll
    static void stopCluster() throws Exception {
        Thread.interrupted(); // a timed-out test leaves the flag set; the cleanup must still run
        if (runDir == null) {
            return;
        }
        try {
            Result stop = run("stop", "--clean");
            assertEquals(0, stop.exitCode(), () -> "stop failed:\n" + stop.output());
        } finally {
            List<Long> survivors = killCluster();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            LocalProcesses.deleteRecursively(runDir);
            assertTrue(survivors.isEmpty(), "processes survived flink.sh stop; killed them: " + survivors);
        }
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS) // backstop; every step has its own bound
    void runsTheScoringJobSubmittedOverRest() throws Exception {
        long t0 = System.nanoTime();

        Result again = run("start");
        assertEquals(0, again.exitCode(), again.output());
        assertTrue(again.output().contains("already running"), again.output());
        Result status = run("status");
        assertEquals(0, status.exitCode(), status.output());
        assertTrue(status.output().startsWith("running"), status.output());

        // The web UI (flink-runtime-web) and the REST API.
        HttpResponse<String> ui = get("/");
        assertEquals(200, ui.statusCode(), "web UI");
        assertTrue(ui.body().toLowerCase().contains("<html"), "web UI page: " + ui.body());
        HttpResponse<String> overview = get("/overview");
        assertEquals(200, overview.statusCode());
        assertTrue(overview.body().contains("\"taskmanagers\":1"), overview.body());

        String id = submit("--model", repoRoot.resolve("examples/models/reference-lru").toString(),
                "--source", "file:" + repoRoot.resolve("examples/events/sample.jsonl"),
                "--sink", "file:" + tmp.resolve("scores"), "--checkpoint-interval", "1s");
        String state = awaitTerminal(id);
        assertEquals("FINISHED", state, () -> "job " + id + " ended " + state + "; logs in " + runDir.resolve("log"));
        assertEquals(Files.readAllLines(repoRoot.resolve("examples/events/sample-expected.jsonl")).size(),
                Jobs.committedLines(tmp.resolve("scores")).size(), "committed scores");

        long jobMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("flink.sh: cluster started in %d ms; job submitted and finished in %d ms%n", startedMs, jobMs);
    }

    /**
     * What a user does after a model upgrade: {@code lseq backfill} the history into a savepoint,
     * then {@code lseq run --jobmanager ... --from-savepoint} on the cluster, which continues every
     * key. Each streamed score is checked against the float64 reference scores of the whole
     * sample (examples/events/sample-expected.jsonl).
     */
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void theClusterContinuesFromABackfillSavepoint() throws Exception {
        List<String> all = Files.readAllLines(repoRoot.resolve("examples/events/sample.jsonl"));
        Path history = Files.write(tmp.resolve("history.jsonl"), all.subList(0, 3000));
        Path live = Files.write(tmp.resolve("live.jsonl"), all.subList(3000, all.size()));
        Path savepoint = tmp.resolve("savepoint");
        String model = repoRoot.resolve("examples/models/reference-lru").toString();
        assertEquals(0, Main.run(new String[] {"backfill", "--model", model, "--input", history.toString(),
            "--savepoint", savepoint.toString(), "--device", "cpu", "--quiet"}));

        String id = submit("--model", model, "--from-savepoint", savepoint.toString(), "--source", "file:" + live,
                "--sink", "file:" + tmp.resolve("scores"), "--checkpoint-interval", "1s");
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
        System.out.printf("flink.sh: backfill of 3,000 events, then %,d live events on the cluster from its savepoint: "
                + "worst error %.4f of tolerance%n", got.size(), worst);
    }

    /**
     * {@code lseq sql -f FILE --jobmanager}: the script's LSEQ_SCORE job runs on the cluster (whose
     * TaskManagers have Flink SQL's jars, as flink-dist's lib/ does) with the job jar shipped, and
     * its scores are {@code lseq score}'s, bit for bit, for every event of the sample.
     */
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void lseqSqlRunsItsScriptOnTheCluster() throws Exception {
        Path events = repoRoot.resolve("examples/events/sample.jsonl");
        String model = repoRoot.resolve("examples/models/reference-lru").toString();
        Path scores = tmp.resolve("sql-scores");
        Path script = Files.writeString(tmp.resolve("score.sql"), """
                CREATE TABLE events (`key` STRING, ts BIGINT, token INT, id STRING)
                  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
                CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, id STRING, error STRING)
                  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
                INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, model => '%s');
                """.formatted(events, scores, model));
        String id = lseq("sql", "-f", script.toString(), "--jobmanager", "127.0.0.1:" + restPort);
        String state = awaitTerminal(id);
        assertEquals("FINISHED", state, () -> "job " + id + " ended " + state + "; logs in " + runDir.resolve("log"));

        Path expected = tmp.resolve("expected.jsonl");
        assertEquals(0, Main.run(new String[] {"score", "--model", model, "--input", events.toString(), "--output",
            expected.toString(), "--quiet"}));
        Map<String, Score> want = Jobs.byKeySeq(Files.readAllLines(expected));
        Map<String, Score> got = Jobs.byKeySeq(Jobs.committedLines(scores));
        assertEquals(want.size(), got.size(), "one score per event");
        for (Map.Entry<String, Score> e : want.entrySet()) {
            Score g = got.get(e.getKey());
            assertTrue(g != null, "(key, seq) " + e.getKey());
            assertEquals(Float.floatToIntBits((float) e.getValue().score()), Float.floatToIntBits((float) g.score()),
                    "(key, seq) " + e.getKey());
        }
    }

    /** {@code lseq run --jobmanager} with this cluster and the built job jar; returns the job id it prints. */
    private String submit(String... runArgs) {
        List<String> argv = new java.util.ArrayList<>(List.of("run", "--jobmanager", "127.0.0.1:" + restPort));
        argv.addAll(List.of(runArgs));
        return lseq(argv.toArray(String[]::new));
    }

    /** Runs an lseq command that submits to this cluster with the built job jar; returns the job id it prints last. */
    private String lseq(String... argv) {
        Path jar = repoRoot.resolve("cli/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        System.setProperty("lseq.job.jar", jar.toString());
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, UTF_8));
            exit = Main.run(argv);
        } finally {
            System.setOut(oldOut);
            System.clearProperty("lseq.job.jar");
        }
        assertEquals(0, exit);
        String[] lines = out.toString(UTF_8).strip().split("\\R");
        String id = lines[lines.length - 1].strip();
        assertTrue(id.matches("[0-9a-f]{32}"), "prints the job id: " + id);
        return id;
    }

    /** Polls {@code /jobs/<id>} until the job is FINISHED, FAILED or CANCELED. */
    private String awaitTerminal(String id) throws Exception {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        String state = "?";
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get("/jobs/" + id);
            if (r.statusCode() == 200) {
                Matcher m = STATE.matcher(r.body());
                if (m.find()) {
                    state = m.group(1);
                    if (state.equals("FINISHED") || state.equals("FAILED") || state.equals("CANCELED")) {
                        return state;
                    }
                }
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

    /** Runs flink.sh with this test's ports and run dir (see {@link LocalProcesses#runScript}). */
    private static Result run(String... args) throws IOException, InterruptedException {
        Map<String, String> env = Map.of(
                "FLINK_REST_PORT", Integer.toString(restPort),
                "FLINK_RPC_PORT", Integer.toString(rpcPort),
                "FLINK_RUN_DIR", runDir.toString(),
                "FLINK_START_TIMEOUT", "80");
        return LocalProcesses.runScript(script(), repoRoot, env, SCRIPT_TIMEOUT, runDir.getParent(), "flink-script-", args);
    }

    /**
     * Kills (SIGKILL) every live process of the pid files in the run dir whose command line names
     * this run dir; returns the pids it killed.
     */
    private static List<Long> killCluster() {
        Path dir = runDir;
        if (dir == null) {
            return List.of();
        }
        return LocalProcesses.kill(LocalProcesses.readPids(dir), dir.toString());
    }

    private static Path script() {
        return repoRoot.resolve("deploy/local/flink.sh");
    }
}
