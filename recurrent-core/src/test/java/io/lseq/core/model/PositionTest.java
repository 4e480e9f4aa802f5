package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.core.testing.TestModels;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Attention and GAU see only position differences: a key restored at position ~2^40 must score
 * like the same key at its original position, including across the engine's RoPE rebase.
 */
class PositionTest {
    static final long REBASE = 1L << 16;

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"type\":\"attention\",\"heads\":2,\"window\":24,\"logn_base\":8}",
        "{\"type\":\"gau\",\"key_size\":8,\"window\":24}"})
    void sameScoresNearTwoToTheFortyAsNearZero(String mixer) {
        Model m = TestModels.random(TestModels.tokensConfig(
                "[{\"mixer\":" + mixer + "},{\"mixer\":{\"type\":\"lru\",\"d_state\":4}}]"), 21);
        Scorer s = m.newScorer();
        SplittableRandom rnd = new SplittableRandom(9);
        int[] tokens = new int[200_000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(32);
        }
        // Warm a key up past a full window, then clone it to a position ~2^40 that keeps its ring
        // slots and rebase phase (a multiple of both the window and the rebase period).
        KeyState near0 = m.newState();
        float[] out = new float[1];
        for (int i = 0; i < 1000; i++) {
            s.stepToken(near0, tokens[i], out);
        }
        long shift = (1L << 40) / (REBASE * 24) * (REBASE * 24);
        KeyState far = new KeyState(near0.values().clone(), near0.position() + shift);
        float[] outFar = new float[1];
        // 200k events cross three rebases of each.
        double maxDiff = 0;
        for (int i = 1000; i < tokens.length; i++) {
            s.stepToken(near0, tokens[i], out);
            s.stepToken(far, tokens[i], outFar);
            maxDiff = Math.max(maxDiff, Math.abs(out[0] - outFar[0]));
        }
        assertEquals(0.0, maxDiff, 0.0, "bit-identical: relative positions are identical");
    }
}
