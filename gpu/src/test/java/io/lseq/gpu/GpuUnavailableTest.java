package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.format.ConfigParser;
import io.lseq.core.testing.TestModels;
import org.junit.jupiter.api.Test;

/** Without CUDA the backend says why in one line; models it cannot run are named with the reason. */
class GpuUnavailableTest {

    @Test
    void withoutCudaOpenSaysWhyInOneLine() {
        String why = CudaDevice.probe();
        assumeTrue(why != null, "this machine has a GPU");
        assertTrue(!why.contains("\n") && !why.isBlank(), why);
        GpuUnavailableException e = assertThrows(GpuUnavailableException.class, CudaDevice::open);
        assertTrue(e.getMessage().equals(why), e.getMessage());
    }

    @Test
    void onlyAllLruModelsRunOnTheGpu() {
        String lru = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]");
        assertNull(GpuBatchScorer.unsupported(ConfigParser.parse(lru)));
        String mixed = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}},"
                + "{\"mixer\":{\"type\":\"gru\",\"d_state\":8}}]");
        String why = GpuBatchScorer.unsupported(ConfigParser.parse(mixed));
        assertTrue(why != null && why.contains("block 1") && why.contains("gru"), why);
    }
}
