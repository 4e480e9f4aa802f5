package io.lseq.gpu;

import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The host emulator of the CUDA driver (src/test/cuda/emulated_libcuda.cpp, lseq's kernels on
 * emulate.h) as a {@code libcuda.so.1}, for tests that run the whole GPU path in a child JVM on
 * machines without a GPU: set {@code LD_LIBRARY_PATH} to {@link #build()}'s directory.
 */
public final class EmulatedCuda {
    private EmulatedCuda() {}

    /** Whether the emulator runs here: its fiber switch is x86-64 (System V) assembly. */
    public static boolean supported() {
        String arch = System.getProperty("os.arch");
        return (arch.equals("amd64") || arch.equals("x86_64")) && System.getProperty("os.name").startsWith("Linux");
    }

    /** Compiles the library unless it is newer than its sources; null when there is no g++ or no x86-64 Linux. */
    public static synchronized Path build() throws IOException, InterruptedException {
        if (!supported()) {
            return null;
        }
        Path root = TestModels.repoRoot();
        Path dir = root.resolve("gpu/target/emulated-cuda");
        Path lib = dir.resolve("libcuda.so.1");
        long newest = 0;
        for (Path src : List.of(root.resolve("gpu/src/test/cuda/emulated_libcuda.cpp"),
                root.resolve("gpu/src/test/cuda/emulate.h"), root.resolve("gpu/src/main/cuda/lru_scan.cu"),
                root.resolve("gpu/src/main/cuda/model_ops.cu"), root.resolve("gpu/src/main/cuda/lseq_cuda.h"))) {
            newest = Math.max(newest, Files.getLastModifiedTime(src).toMillis());
        }
        if (Files.exists(lib) && Files.getLastModifiedTime(lib).toMillis() > newest) {
            return dir;
        }
        Files.createDirectories(dir);
        Result r = run(root, Map.of(), 300, "g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-DLSEQ_EMULATE",
                "-I", "gpu/src/test/cuda", "-I", "gpu/src/main/cuda", "gpu/src/test/cuda/emulated_libcuda.cpp", "-o",
                lib.toString());
        if (r.status == -1) {
            return null;
        }
        if (r.status != 0) {
            throw new IllegalStateException("emulated_libcuda.cpp does not compile:\n" + r.output);
        }
        return dir;
    }

    /** Exit status (-1: could not start, -2: timed out) and output. */
    public record Result(int status, String output) {}

    /** Runs {@code cmd} in {@code dir} with {@code env} added, capturing stdout and stderr together. */
    public static Result run(Path dir, Map<String, String> env, int timeoutSeconds, String... cmd)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Path log = Files.createTempFile("lseq-emulated", ".log");
        pb.redirectOutput(log.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        }
        boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Files.delete(log);
        return new Result(done ? p.exitValue() : -2, out);
    }

    /** A {@code java} command line with this JVM's test class path and the Vector API module. */
    public static List<String> java(String... mainAndArgs) {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Xmx1g", "-cp", cp));
        cmd.addAll(List.of(mainAndArgs));
        return cmd;
    }
}
