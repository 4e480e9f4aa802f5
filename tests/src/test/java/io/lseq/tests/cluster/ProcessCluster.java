package io.lseq.tests.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A test's own Flink session cluster of local processes ({@code deploy/local/flink.sh}): free
 * ports, its own run directory, a shutdown hook that kills it if the JVM ends first, and
 * {@link #close} that stops it and deletes the directory. What the cluster tests share; each
 * passes the environment that makes its cluster different (slots, reporter ports, ...).
 */
final class ProcessCluster implements AutoCloseable {
    private final Path repoRoot;
    private final Path runDir;
    private final int restPort;
    private final int rpcPort;
    private final String prefix;
    private final Map<String, String> env;
    private final Thread killOnExit;

    private ProcessCluster(Class<?> test, String prefix, Map<String, String> extraEnv) throws Exception {
        this.prefix = prefix;
        repoRoot = LocalProcesses.repoRoot(test);
        runDir = LocalProcesses.newRunDirectory(test, prefix);
        restPort = LocalProcesses.freePort();
        rpcPort = LocalProcesses.freePortOtherThan(restPort);
        Map<String, String> e = new HashMap<>(Map.of("FLINK_REST_PORT", Integer.toString(restPort),
                "FLINK_RPC_PORT", Integer.toString(rpcPort), "FLINK_RUN_DIR", runDir.toString(),
                "FLINK_START_TIMEOUT", "80"));
        e.putAll(extraEnv);
        env = Map.copyOf(e);
        killOnExit = LocalProcesses.killOnExit("kill-" + prefix + "cluster", this::kill);
    }

    /**
     * Starts a cluster of one JobManager and {@code taskManagers} TaskManagers and waits until they
     * are registered; fails the test with flink.sh's output if it cannot.
     *
     * @param prefix names the run directory and the shutdown hook, e.g. {@code "flink-upgrade-"}
     * @param extraEnv more of flink.sh's environment, e.g. {@code FLINK_PROPERTIES}
     */
    static ProcessCluster start(Class<?> test, String prefix, int taskManagers, Map<String, String> extraEnv)
            throws Exception {
        ProcessCluster c = new ProcessCluster(test, prefix, extraEnv);
        Result start = c.flink("start", "--taskmanagers", Integer.toString(taskManagers));
        assertEquals(0, start.exitCode(), () -> "flink.sh start failed:\n" + start.output());
        return c;
    }

    /** Runs flink.sh with this cluster's ports and run directory. */
    Result flink(String... args) throws Exception {
        return LocalProcesses.runScript(repoRoot.resolve("deploy/local/flink.sh"), repoRoot, env, Duration.ofSeconds(100),
                runDir.getParent(), prefix, args);
    }

    Path repoRoot() {
        return repoRoot;
    }

    Path runDir() {
        return runDir;
    }

    int restPort() {
        return restPort;
    }

    /** {@code 127.0.0.1:REST_PORT}, as {@code --jobmanager} takes it. */
    String jobManager() {
        return "127.0.0.1:" + restPort;
    }

    /** SIGKILLs every process of this cluster still alive. */
    void kill() {
        LocalProcesses.kill(LocalProcesses.readPids(runDir), runDir.toString());
    }

    /** Stops the cluster (TERM, then KILL), removes the shutdown hook and deletes the run directory. */
    @Override
    public void close() throws Exception {
        Thread.interrupted(); // a test's timeout may have left the flag set
        try {
            flink("stop", "--clean");
        } finally {
            kill();
            Runtime.getRuntime().removeShutdownHook(killOnExit);
            LocalProcesses.deleteRecursively(runDir);
        }
    }
}
