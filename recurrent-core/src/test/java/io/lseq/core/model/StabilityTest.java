package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.format.ConfigParser;
import io.lseq.core.format.DType;
import io.lseq.core.format.Tensor;
import io.lseq.core.format.Weights;
import io.lseq.core.mixer.LruMixer;
import io.lseq.core.testing.TestModels;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class StabilityTest {

    @Test
    void lruModulusStaysBelowOneForAnyParameters() {
        int n = 64;
        float[] nu = new float[n];
        float[] theta = new float[n];
        SplittableRandom rnd = new SplittableRandom(3);
        float[] extremes = {-Float.MAX_VALUE, -1e30f, -1000f, -88f, -40f, -37f, -30f, -20f, -10f, 0f, 5f, 88f, 1e30f,
            Float.MAX_VALUE};
        for (int i = 0; i < n; i++) {
            nu[i] = i < extremes.length ? extremes[i] : (float) (rnd.nextDouble() * 200 - 100);
            theta[i] = (float) (rnd.nextDouble() * 20 - 15);
        }
        Map<String, Tensor> t = new HashMap<>();
        int h = 4;
        put(t, "nu_log", nu, n);
        put(t, "theta_log", theta, n);
        put(t, "gamma_log", new float[n], n);
        put(t, "B_re", new float[n * h], n, h);
        put(t, "B_im", new float[n * h], n, h);
        put(t, "C_re", new float[n * h], h, n);
        put(t, "C_im", new float[n * h], h, n);
        put(t, "D", new float[h], h);
        LruMixer lru = new LruMixer(new Weights("t", t), "", h, n);
        for (int i = 0; i < n; i++) {
            double mod = lru.lambdaModulus(i);
            assertTrue(mod < 1.0 && mod >= 0, "nu_log " + nu[i] + " gives |lambda| " + mod);
        }
    }

    private static void put(Map<String, Tensor> t, String name, float[] data, int... shape) {
        t.put(name, new Tensor(name, DType.F32, shape, data));
    }

    /** A million random events through each mixer leave every state value finite. */
    @ParameterizedTest
    @ValueSource(strings = {
        "{\"type\":\"lru\",\"d_state\":16}",
        "{\"type\":\"gru\",\"d_state\":12}",
        "{\"type\":\"lstm\",\"d_state\":12}",
        "{\"type\":\"attention\",\"heads\":2,\"window\":8,\"logn_base\":4}",
        "{\"type\":\"gau\",\"key_size\":8,\"window\":8}"})
    void noNanAfterAMillionRandomSteps(String mixer) {
        Model m = TestModels.random(TestModels.tokensConfig("[{\"mixer\":" + mixer + "}]"), 11);
        Scorer s = m.newScorer();
        KeyState k = m.newState();
        float[] out = new float[1];
        SplittableRandom rnd = new SplittableRandom(5);
        double sum = 0;
        for (int i = 0; i < 1_000_000; i++) {
            s.stepToken(k, rnd.nextInt(32), out);
            sum += out[0];
        }
        assertTrue(Double.isFinite(sum), "scores finite");
        for (float v : k.values()) {
            assertTrue(Float.isFinite(v), "state finite");
        }
        assertEquals(1_000_001, k.position());
    }
}
