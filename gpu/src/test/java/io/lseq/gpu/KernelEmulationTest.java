package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The kernels' logic on machines without a GPU: compiles the .cu sources for the host with the
 * emulator in src/test/cuda (g++, C++20) and runs their checks against double-precision references.
 * The scan runs several blocks at once there, so its look-back meets predecessors still running.
 */
class KernelEmulationTest {

    @Test
    void kernelsComputeWhatTheySayOnTheHostEmulator() throws IOException, InterruptedException {
        assumeTrue(EmulatedCuda.supported(), "the emulator's fiber switch is x86-64 assembly");
        assumeTrue(run(Path.of("."), "g++", "--version") == 0, "no g++");
        Path root = TestModels.repoRoot();
        Path exe = root.resolve("gpu/target/kernels_test");
        Files.createDirectories(exe.getParent());
        assertEquals(0, run(root, "g++", "-std=c++20", "-O1", "-pthread", "-DLSEQ_EMULATE", "-I", "gpu/src/test/cuda",
                "-I", "gpu/src/main/cuda", "gpu/src/test/cuda/kernels_test.cpp", "-o", exe.toString()), "compiles");
        Path log = exe.resolveSibling("kernels_test.out");
        int rc = run(root, exe.toString(), log);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, rc, out);
        assertTrue(out.contains("all kernel checks passed"), out);
    }

    private static int run(Path dir, String... cmd) throws IOException, InterruptedException {
        return run(dir, cmd, null);
    }

    private static int run(Path dir, String exe, Path log) throws IOException, InterruptedException {
        return run(dir, new String[] {exe}, log);
    }

    private static int run(Path dir, String[] cmd, Path log) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        if (log != null) {
            pb.redirectOutput(log.toFile());
        } else {
            pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return -1;
        }
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            return -2;
        }
        return p.exitValue();
    }
}
