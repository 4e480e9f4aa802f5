package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.model.BatchBackends;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.DeviceUnavailableException;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gpu module plugs into the core's device choice through ServiceLoader. */
class GpuDeviceTest {
    private static final String LRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]");
    private static final String GRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"gru\",\"d_state\":8}}]");

    @Test
    void theGpuIsFoundByName() {
        assertEquals(List.of("auto", "cpu", "gpu"), BatchBackends.names());
        assertInstanceOf(GpuDevice.class, BatchBackends.devices().get(0));
    }

    @Test
    void withoutCudaAutoSaysWhyNotTheGpuAndGpuIsRefused(@TempDir Path dir) {
        String why = CudaDevice.probe();
        assumeTrue(why != null, "this machine has a GPU");
        Path lru = TestModels.writeRandom(dir.resolve("lru"), LRU, 1);
        Model model = Model.load(lru);
        BatchBackends.Choice auto = BatchBackends.open("auto", model, 1);
        try (var b = auto.backend()) {
            assertInstanceOf(BatchScorer.class, b);
            assertEquals("device cpu (1 thread); not the GPU: " + why, auto.note());
        }
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> BatchBackends.open("gpu", model, 1));
        assertEquals(why, e.getMessage());
    }

    @Test
    void aModelTheGpuCannotRunIsRefusedByName(@TempDir Path dir) {
        Path gru = TestModels.writeRandom(dir.resolve("gru"), GRU, 1);
        Model model = Model.load(gru);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BatchBackends.open("gpu", model, 1));
        assertTrue(e.getMessage().startsWith("--device gpu: block 0 of model ") && e.getMessage().endsWith("; use --device cpu"),
                e.getMessage());
        BatchBackends.Choice auto = BatchBackends.open("auto", model, 2);
        try (var b = auto.backend()) {
            assertTrue(auto.note().startsWith("device cpu (2 threads); not the GPU: block 0 of model "), auto.note());
        }
    }
}
