package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The per-event paths allocate nothing, the step of one key and the step of 16 keys together
 * (the streaming job's micro-batches): each mixer alone and all five in one model, on this
 * JVM and on every other JDK 17+ installed beside it. Whether C2 inlines a kernel depends on the
 * JDK and on how large its caller has grown; JDK 25 once boxed vectors (192 B per event) in a
 * one-block LRU model that JDK 17 compiled without allocating.
 */
class AllocationTest {
    private static final String LRU = "{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}";
    private static final String GRU = "{\"mixer\":{\"type\":\"gru\",\"d_state\":8}}";
    private static final String LSTM = "{\"mixer\":{\"type\":\"lstm\",\"d_state\":16},\"post\":\"none\"}";
    private static final String ATTENTION =
            "{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":8,\"logn_base\":4},\"mlp\":{\"hidden\":8}}";
    private static final String GAU = "{\"mixer\":{\"type\":\"gau\",\"key_size\":8,\"window\":8}}";
    private static final String[] MODELS = {LRU, GRU, LSTM, ATTENTION, GAU,
        String.join(",", LRU, GRU, LSTM, ATTENTION, GAU)};
    /** Below this over 100k steps counts as nothing (a stray object from the JIT or JFR). */
    private static final long NOTHING = 1024;

    @Test
    void stepAllocatesNothing() {
        assertEquals(List.of(), failures());
    }

    /** What allocates, one line each: "N bytes per 100k steps (one key|16 keys): blocks ...". */
    private static List<String> failures() {
        List<String> failures = new ArrayList<>();
        for (String blocks : MODELS) {
            for (int keys : new int[] {1, KEYS}) {
                long bytes = steadyStateBytes(blocks, keys);
                String line = bytes + " bytes per 100k steps (" + (keys == 1 ? "one key" : keys + " keys") + "): blocks "
                        + blocks;
                System.out.println(line);
                if (bytes >= NOTHING) {
                    failures.add(line);
                }
            }
        }
        return failures;
    }

    @Test
    void stepAllocatesNothingOnTheOtherInstalledJdks() throws Exception {
        List<Path> jdks = otherJdks();
        assumeFalse(jdks.isEmpty(), "no other JDK 17+ under /usr/lib/jvm");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        for (Path jdk : jdks) {
            Path log = Files.createTempFile("lseq-allocation", ".log");
            try {
                Process p = new ProcessBuilder(jdk.resolve("bin/java").toString(), "-Xmx512m",
                        "--add-modules", "jdk.incubator.vector", "-cp", cp, AllocationTest.class.getName())
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                boolean done = p.waitFor(5, TimeUnit.MINUTES);
                if (!done) {
                    p.destroyForcibly().waitFor();
                }
                String out = Files.readString(log, StandardCharsets.UTF_8);
                assertTrue(done, jdk + " did not finish in 5 minutes:\n" + out);
                assertEquals(0, p.exitValue(), jdk + ":\n" + out);
                assertTrue(out.contains("vector kernels on"), jdk + " ran without the Vector API:\n" + out);
            } finally {
                Files.delete(log);
            }
        }
    }

    /** Child JVM entry: exit 1 naming the models that allocate. */
    public static void main(String[] args) {
        System.out.println("vector kernels " + (io.lseq.core.math.VectorSwitch.ON ? "on" : "off"));
        System.exit(failures().isEmpty() ? 0 : 1);
    }

    /** Keys of a micro-batch ({@link Scorer#stepKeys}). */
    private static final int KEYS = 16;

    /**
     * Bytes allocated by 100k events once the JIT has settled, one key at a time or {@code keys}
     * together: C1 code boxes Vector API values, and C2 may take a few rounds to compile every
     * kernel, so the best of up to five rounds.
     */
    private static long steadyStateBytes(String blocks, int keys) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Model m = TestModels.random(TestModels.tokensConfig("[" + blocks + "]"), 3);
        Scorer s = m.newScorer();
        KeyState[] states = new KeyState[keys];
        int[] tokens = new int[keys];
        float[][] outs = new float[keys][1];
        for (int k = 0; k < keys; k++) {
            states[k] = m.newState();
        }
        Runnable step = () -> {
            if (keys == 1) {
                s.stepToken(states[0], tokens[0], outs[0]);
            } else {
                s.stepKeys(states, tokens, null, keys, outs);
            }
            for (int k = 0; k < keys; k++) {
                tokens[k] = (tokens[k] + 1 + k) % 32;
            }
        };
        for (int i = 0; i < 20_000 * 16 / keys + 2_000; i++) {
            step.run();
        }
        long tid = Thread.currentThread().getId();
        long allocated = Long.MAX_VALUE;
        for (int round = 0; round < 5 && allocated >= NOTHING; round++) {
            long before = mx.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 100_000 / keys; i++) {
                step.run();
            }
            allocated = mx.getThreadAllocatedBytes(tid) - before;
        }
        return allocated;
    }

    /** JDKs of release 17 or later under /usr/lib/jvm, other than the one running this test. */
    private static List<Path> otherJdks() throws IOException {
        Path root = Path.of("/usr/lib/jvm");
        Path self = Path.of(System.getProperty("java.home")).toRealPath();
        List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return found;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                Path release = d.resolve("release");
                if (!Files.isRegularFile(release) || !Files.isExecutable(d.resolve("bin/java"))) {
                    continue;
                }
                Path real = d.toRealPath();
                Properties props = new Properties();
                try (var in = Files.newInputStream(release)) {
                    props.load(in);
                }
                String v = props.getProperty("JAVA_VERSION", "\"0\"").replace("\"", "");
                if (!v.matches("\\d+([.+-].*)?")) {
                    continue; // not a JDK release file we can read
                }
                int major = Integer.parseInt(v.split("[.+-]")[0]);
                if (major >= 17 && !real.equals(self) && found.stream().noneMatch(real::equals)) {
                    found.add(real);
                }
            }
        }
        return found;
    }
}
