package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.lseq.core.testing.TestModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Without a device module on the classpath the batch path runs on the CPU, and says so. */
class BatchBackendsTest {
    @Test
    void theCpuIsAlwaysThereAndOtherNamesAreRefused(@TempDir Path dir) {
        Path m = TestModels.writeRandom(dir.resolve("m"),
                TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]"), 3);
        Model model = Model.load(m);
        assertEquals(List.of("auto", "cpu"), BatchBackends.names());
        BatchBackends.Choice cpu = BatchBackends.open("cpu", model, 2);
        try (var b = cpu.backend()) {
            assertInstanceOf(BatchScorer.class, b);
            assertEquals("device cpu (2 threads)", cpu.note());
        }
        BatchBackends.Choice auto = BatchBackends.open("auto", model, 1);
        try (var b = auto.backend()) {
            assertEquals("device cpu (1 thread)", auto.note());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BatchBackends.open("tpu", model, 1));
        assertEquals("--device must be one of auto, cpu, got 'tpu'", e.getMessage());
    }
}
