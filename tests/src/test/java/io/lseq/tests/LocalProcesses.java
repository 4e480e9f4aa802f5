package io.lseq.tests;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the tests of the {@code deploy/local} scripts share: free ports, the build's target
 * directory, running a script with a bound and its output captured, reading pid files, killing
 * what a script left behind, and removing a run directory.
 */
public final class LocalProcesses {

    /** How long {@link #kill} waits for each killed process to be gone. */
    private static final Duration EXIT_WAIT = Duration.ofSeconds(10);

    private LocalProcesses() {}

    /** The exit code and the combined stdout and stderr of a script run. */
    public record Result(int exitCode, String output) {}

    /**
     * A port that was free on the loopback interface a moment ago, so that a test's servers do
     * not collide with anything a developer runs on the default ports.
     */
    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /**
     * A free port other than {@code taken}: a server that needs two ports cannot be given the
     * same one twice, which two calls of {@link #freePort()} may return.
     */
    public static int freePortOtherThan(int taken) throws IOException {
        int port;
        do {
            port = freePort();
        } while (port == taken);
        return port;
    }

    /**
     * {@code tests/target}: the parent of {@code target/test-classes}, found from where
     * {@code testClass} was loaded, so that it holds whatever the working directory is.
     */
    public static Path targetDirectory(Class<?> testClass) {
        try {
            Path classes = Path.of(testClass.getProtectionDomain().getCodeSource().getLocation().toURI());
            return classes.getParent().toAbsolutePath();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The repository root: two levels above {@code tests/target} (see {@link #targetDirectory}),
     * where the scripts under test expect to be run from.
     */
    public static Path repoRoot(Class<?> testClass) {
        return targetDirectory(testClass).getParent().getParent();
    }

    /**
     * A new, empty directory named {@code prefix...} under {@code tests/target} for a script's run
     * directory: apart from anything a developer runs, and removed by {@code mvn clean} should a
     * failed run leave it behind.
     */
    public static Path newRunDirectory(Class<?> testClass, String prefix) throws IOException {
        return Files.createTempDirectory(targetDirectory(testClass), prefix);
    }

    /**
     * Registers {@code kill} as a JVM shutdown hook named {@code name} and returns the hook, to be
     * removed with {@link Runtime#removeShutdownHook} once the test has cleaned up. Should the
     * test JVM be ended first (surefire timeout, Ctrl-C), the servers a script started in the
     * background go with it instead of outliving the build.
     */
    public static Thread killOnExit(String name, Runnable kill) {
        Thread hook = new Thread(kill, name);
        Runtime.getRuntime().addShutdownHook(hook);
        return hook;
    }

    /**
     * Runs {@code bash script args...} in {@code workDir} with {@code env} added to the
     * environment and stdin from {@code /dev/null}, and returns its exit code and output. Fails
     * the test if it does not finish within {@code timeout}, after killing it and whatever it
     * started.
     *
     * <p>The output goes to a temporary file in {@code outDir} (deleted afterwards), not to a
     * pipe: the servers the script starts in the background inherit its stdout, and would hold a
     * pipe open long after the script itself returned.
     */
    public static Result runScript(Path script, Path workDir, Map<String, String> env, Duration timeout,
            Path outDir, String outPrefix, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(outDir, outPrefix, ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env);
            Process process = pb.start();
            if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                // What the script starts is its child until the script returns.
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                fail(script.getFileName() + " " + String.join(" ", args) + " did not finish in " + timeout
                        + ":\n" + Files.readString(out, UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(out, UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * The pid in {@code pidFile}; empty if the file is missing, unreadable or does not hold just
     * a number (a script may be writing it, or may have never started the process).
     */
    public static Optional<Long> readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile, UTF_8).strip();
            return text.matches("\\d+") ? Optional.of(Long.parseLong(text)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The pids of the {@code *.pid} files directly in {@code dir} (see {@link #readPid}); none if
     * there is no such directory.
     */
    public static List<Long> readPids(Path dir) {
        List<Long> pids = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return pids;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".pid")).toList()) {
                readPid(f).ifPresent(pids::add);
            }
        } catch (IOException e) {
            // nothing more to find
        }
        return pids;
    }

    /**
     * Kills (SIGKILL) those of {@code pids} that are alive and whose command line contains
     * {@code commandLineMarker}, then waits up to 10 seconds for each to be gone; returns the
     * pids it killed. The marker rules out a pid that the OS has since reused for an unrelated
     * process; one whose command line cannot be read counts as a match, so that a test's server
     * is not left running for want of that check.
     */
    public static List<Long> kill(Collection<Long> pids, String commandLineMarker) {
        List<ProcessHandle> handles = new ArrayList<>();
        for (long pid : pids) {
            ProcessHandle.of(pid)
                    .filter(ProcessHandle::isAlive)
                    .filter(ph -> ph.info().commandLine().map(c -> c.contains(commandLineMarker)).orElse(true))
                    .ifPresent(handles::add);
        }
        List<Long> killed = new ArrayList<>();
        // Kill them all before waiting, so that the waits overlap.
        for (ProcessHandle ph : handles) {
            ph.destroyForcibly();
            killed.add(ph.pid());
        }
        for (ProcessHandle ph : handles) {
            try {
                ph.onExit().get(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (Exception e) {
                // reported by the caller, which checks what was killed
            }
        }
        return killed;
    }

    /** Deletes {@code dir} and everything under it, children first; nothing if it does not exist. */
    public static void deleteRecursively(Path dir) throws IOException {
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
}
