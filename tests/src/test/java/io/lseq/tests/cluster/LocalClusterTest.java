package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
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
        Path target = targetDirectory();
        repoRoot = target.getParent().getParent();
        assertTrue(Files.isRegularFile(script()), "no " + script());
        runDir = Files.createTempDirectory(target, "flink-cluster-");
        restPort = freePort();
        do {
            rpcPort = freePort();
        } while (rpcPort == restPort);
        // If the test JVM is ended (surefire timeout, Ctrl-C), take the cluster with it.
        killOnExit = new Thread(LocalClusterTest::killCluster, "kill-local-flink-cluster");
        Runtime.getRuntime().addShutdownHook(killOnExit);

        long t0 = System.nanoTime();
        Result start = run("start", "--taskmanagers", "1");
        startedMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(0, start.exitCode, () -> "start failed:\n" + start.output);
        assertTrue(start.output.contains("http://127.0.0.1:" + restPort + "/"), start.output);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        Thread.interrupted(); // a timed-out test leaves the flag set; the cleanup must still run
        if (runDir == null) {
            return;
        }
        try {
            Result stop = run("stop", "--clean");
            assertEquals(0, stop.exitCode, () -> "stop failed:\n" + stop.output);
        } finally {
            List<Long> survivors = killCluster();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            deleteRecursively(runDir);
            assertTrue(survivors.isEmpty(), "processes survived flink.sh stop; killed them: " + survivors);
        }
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS) // backstop; every step has its own bound
    void runsTheScoringJobSubmittedOverRest() throws Exception {
        long t0 = System.nanoTime();

        Result again = run("start");
        assertEquals(0, again.exitCode, again.output);
        assertTrue(again.output.contains("already running"), again.output);
        Result status = run("status");
        assertEquals(0, status.exitCode, status.output);
        assertTrue(status.output.startsWith("running"), status.output);

        // The web UI (flink-runtime-web) and the REST API.
        HttpResponse<String> ui = get("/");
        assertEquals(200, ui.statusCode(), "web UI");
        assertTrue(ui.body().toLowerCase().contains("<html"), "web UI page: " + ui.body());
        HttpResponse<String> overview = get("/overview");
        assertEquals(200, overview.statusCode());
        assertTrue(overview.body().contains("\"taskmanagers\":1"), overview.body());

        Path jar = repoRoot.resolve("flink-jobs/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        String id;
        System.setProperty("lseq.job.jar", jar.toString());
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, UTF_8));
            exit = Main.run(new String[] {"run", "--jobmanager", "127.0.0.1:" + restPort,
                "--model", repoRoot.resolve("examples/models/reference-lru").toString(),
                "--source", "file:" + repoRoot.resolve("examples/events/sample.jsonl"),
                "--sink", "file:" + tmp.resolve("scores"), "--checkpoint-interval", "1s"});
        } finally {
            System.setOut(oldOut);
            System.clearProperty("lseq.job.jar");
        }
        assertEquals(0, exit);
        id = out.toString(UTF_8).strip();
        assertTrue(id.matches("[0-9a-f]{32}"), "prints the job id: " + id);

        String state = awaitTerminal(id);
        assertEquals("FINISHED", state, () -> "job " + id + " ended " + state + "; logs in " + runDir.resolve("log"));
        assertEquals(Files.readAllLines(repoRoot.resolve("examples/events/sample-expected.jsonl")).size(),
                committedLines(tmp.resolve("scores")).size(), "committed scores");

        long jobMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("flink.sh: cluster started in %d ms; job submitted and finished in %d ms%n", startedMs, jobMs);
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

    /** The lines of the committed part files (in-progress and pending ones start with '.'). */
    private static List<String> committedLines(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList()) {
                lines.addAll(Files.readAllLines(f, UTF_8));
            }
        }
        return lines;
    }

    private record Result(int exitCode, String output) {}

    /** Runs flink.sh with this test's ports and run dir; output goes to a file, not a pipe the JVMs could hold open. */
    private static Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", script().toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(runDir.getParent(), "flink-script-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(repoRoot.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            Map<String, String> env = pb.environment();
            env.put("FLINK_REST_PORT", Integer.toString(restPort));
            env.put("FLINK_RPC_PORT", Integer.toString(rpcPort));
            env.put("FLINK_RUN_DIR", runDir.toString());
            env.put("FLINK_START_TIMEOUT", "80");
            Process process = pb.start();
            if (!process.waitFor(SCRIPT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                // The JVMs are children of the script until it returns.
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                fail("flink.sh " + String.join(" ", args) + " did not finish in " + SCRIPT_TIMEOUT
                        + ":\n" + Files.readString(out, UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(out, UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * Kills (SIGKILL) every live process of the pid files in the run dir whose command line names
     * this run dir; returns the pids it killed.
     */
    private static List<Long> killCluster() {
        List<Long> killed = new ArrayList<>();
        Path dir = runDir;
        if (dir == null || !Files.isDirectory(dir)) {
            return killed;
        }
        List<ProcessHandle> handles = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".pid")).toList()) {
                readPid(f).flatMap(ProcessHandle::of)
                        .filter(ProcessHandle::isAlive)
                        .filter(ph -> ph.info().commandLine().map(c -> c.contains(dir.toString())).orElse(true))
                        .ifPresent(handles::add);
            }
        } catch (IOException e) {
            // nothing more to find
        }
        for (ProcessHandle ph : handles) {
            ph.destroyForcibly();
            killed.add(ph.pid());
        }
        for (ProcessHandle ph : handles) {
            try {
                ph.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                // reported by the caller
            }
        }
        return killed;
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile, UTF_8).strip();
            return text.matches("\\d+") ? Optional.of(Long.parseLong(text)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static Path script() {
        return repoRoot.resolve("deploy/local/flink.sh");
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** {@code tests/target}: the parent of {@code target/test-classes}. */
    private static Path targetDirectory() {
        try {
            Path classes = Path.of(LocalClusterTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return classes.getParent().toAbsolutePath();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
