package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.testing.TestModels;
import org.junit.jupiter.api.Test;

/** The GPU batch path against the goldens and the CPU step path ({@link GpuCheck}); skipped without CUDA. */
class GpuBatchScorerTest {

    @Test
    void matchesTheReferencesOnTheGpu() {
        String why = CudaDevice.probe();
        assumeTrue(why == null, "no GPU: " + why);
        try (CudaDevice dev = CudaDevice.open()) {
            int failures = new GpuCheck(dev, false).all(TestModels.repoRoot().resolve("recurrent-core/src/test/resources/golden"));
            assertEquals(0, failures, "GPU checks failed (see the output)");
        }
    }
}
