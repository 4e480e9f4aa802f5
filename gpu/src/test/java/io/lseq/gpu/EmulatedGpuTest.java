package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.testing.TestModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole Java GPU path (JCuda, argument packing, buffers, the model's orchestration, the
 * kernels) in a child JVM whose libcuda.so.1 is the host emulator ({@link EmulatedCuda}): the
 * checks of {@link GpuCheck} (quick sizes) and a smoke run of both benchmarks. Speed and the GPU's
 * memory model are not tested here; GpuBatchScorerTest runs the same checks on a real GPU.
 */
class EmulatedGpuTest {
    static Path lib;
    static final Path ROOT = TestModels.repoRoot();

    @BeforeAll
    static void build() throws Exception {
        lib = EmulatedCuda.build();
    }

    private static EmulatedCuda.Result java(String... args) throws Exception {
        assumeTrue(lib != null, "no g++ to build the emulator");
        return EmulatedCuda.run(ROOT, Map.of("LD_LIBRARY_PATH", lib.toString()), 600,
                EmulatedCuda.java(args).toArray(String[]::new));
    }

    @Test
    void gpuChecksPassOnTheEmulator() throws Exception {
        EmulatedCuda.Result r = java("io.lseq.gpu.GpuCheck", "--quick", "recurrent-core/src/test/resources/golden");
        System.out.print(r.output());
        assertEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("device: lseq host emulator"), r.output());
        assertTrue(r.output().contains("all GPU checks passed"), r.output());
    }

    /**
     * The same checks on a device of 16 MB: batches go in passes sized from its free memory, for
     * every random model (one has blocks of very different widths) and the goldens.
     */
    @Test
    void gpuChecksPassOnASmallDevice() throws Exception {
        assumeTrue(lib != null, "no g++ to build the emulator");
        EmulatedCuda.Result r = EmulatedCuda.run(ROOT, Map.of("LD_LIBRARY_PATH", lib.toString(),
                "LSEQ_EMULATED_DEVICE_BYTES", Integer.toString(16 << 20)), 600,
                EmulatedCuda.java("io.lseq.gpu.GpuCheck", "--quick", "recurrent-core/src/test/resources/golden")
                        .toArray(String[]::new));
        System.out.print(r.output());
        assertEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("all GPU checks passed"), r.output());
    }

    @Test
    void benchmarksRunAndCheckTheirResults() throws Exception {
        EmulatedCuda.Result scan = java("io.lseq.gpu.GpuBench", "scan", "2x300x40,1x1000x32");
        System.out.print(scan.output());
        assertEquals(0, scan.status(), scan.output());
        assertEquals(2 * LruScan.VARIANTS.length, scan.output().lines().filter(l -> l.contains("max rel error")).count(),
                scan.output());
        assertFalse(scan.output().contains("WRONG"), scan.output());
        EmulatedCuda.Result model = java("io.lseq.gpu.GpuBench", "model", "examples/models/longrange-lru", "3x500,1x2000",
                "--cpu-threads", "1");
        System.out.print(model.output());
        assertEquals(0, model.status(), model.output());
        assertEquals(2, model.output().lines().filter(l -> l.contains("tokens/s") && l.contains("mean score")).count(),
                model.output());
    }
}
