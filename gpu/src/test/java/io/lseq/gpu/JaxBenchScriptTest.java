package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import io.lseq.core.testing.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * tools/gpu/jax_bench.py, the JAX side of the GPU comparison, run here with a numpy stand-in for
 * JAX (gpu/src/test/python/jax): its LRU model must score the events GpuBench scores as lseq does,
 * and its scan must pass its own closed-form check. JAX itself only exists on the GPU machine;
 * this keeps a bug in the script from spending that run. Skips without python3 and numpy.
 */
class JaxBenchScriptTest {
    private static final Path ROOT = TestModels.repoRoot();
    private static final Map<String, String> STAND_IN = Map.of("PYTHONPATH", "gpu/src/test/python");

    @Test
    void theScriptsModelScoresTheEventsAsLseqDoes() throws Exception {
        assumeNumpy();
        String shapes = "3x500,1x2000";
        Path dir = ROOT.resolve("examples/models/longrange-lru");
        EmulatedCuda.Result r = EmulatedCuda.run(ROOT, STAND_IN, 300, "python3", "tools/gpu/jax_bench.py", "model",
                dir.toString(), shapes);
        assertEquals(0, r.status(), r.output());
        Model model = Model.load(dir);
        Matcher m = Pattern.compile("jax model (\\S+) .* mean score (\\S+)").matcher(r.output());
        int found = 0;
        while (m.find()) {
            String[] kt = m.group(1).split("x");
            double want = meanScore(model, Integer.parseInt(kt[0]), Integer.parseInt(kt[1]));
            double got = Double.parseDouble(m.group(2));
            assertEquals(want, got, 1e-5 * Math.abs(want), m.group() + "; lseq " + want);
            found++;
        }
        assertEquals(shapes.split(",").length, found, r.output());
    }

    @Test
    void theScriptsScanPassesItsClosedFormCheck() throws Exception {
        assumeNumpy();
        EmulatedCuda.Result r = EmulatedCuda.run(ROOT, STAND_IN, 300, "python3", "tools/gpu/jax_bench.py", "scan",
                "2x300x40,1x1000x32");
        assertEquals(0, r.status(), r.output());
        Matcher m = Pattern.compile("max rel error (\\S+)").matcher(r.output());
        int found = 0;
        while (m.find()) {
            assertTrue(Double.parseDouble(m.group(1)) < 1e-5, r.output());
            found++;
        }
        assertEquals(2, found, r.output());
    }

    private static void assumeNumpy() throws Exception {
        EmulatedCuda.Result r = EmulatedCuda.run(ROOT, Map.of(), 60, "python3", "-c", "import numpy");
        assumeTrue(r.status() == 0, "no python3 with numpy: " + r.output());
    }

    /** The mean score of GpuBench's events ({@link GpuBench#token}) on the CPU batch path. */
    private static double meanScore(Model model, int keys, int len) {
        int vocab = model.config().input().vocabSize();
        List<Sequence> batch = new ArrayList<>();
        for (int k = 0; k < keys; k++) {
            int[] tokens = new int[len];
            for (int t = 0; t < len; t++) {
                tokens[t] = GpuBench.token(k, t, vocab);
            }
            batch.add(new Sequence(model.newState(), tokens, null, new float[len]));
        }
        try (BatchScorer cpu = new BatchScorer(model, 1)) {
            cpu.score(batch);
        }
        double sum = 0;
        for (Sequence s : batch) {
            for (float v : s.out()) {
                sum += v;
            }
        }
        return sum / ((double) keys * len);
    }
}
