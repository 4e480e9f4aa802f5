package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Scorer#stepKeys}, one event of many keys at once, against the float64 reference (every
 * golden case, its keys stepped together round by round) and against stepping key by key (many
 * keys, so the four-row products and their remainders both run).
 */
class StepKeysTest {
    static List<String> cases() throws IOException {
        return GoldenTest.cases().toList();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesTheReference(String name) throws IOException {
        Model m = Model.load(GoldenTest.GOLDEN.resolve(name));
        Map<String, BatchScorerTest.KeyEvents> keys = BatchScorerTest.byKey(GoldenTest.GOLDEN.resolve(name));
        List<BatchScorerTest.KeyEvents> ks = new ArrayList<>(keys.values());
        KeyState[] states = new KeyState[ks.size()];
        for (int k = 0; k < states.length; k++) {
            states[k] = m.newState();
        }
        Scorer scorer = m.newScorer();
        float[][] outs = new float[ks.size()][m.outputSize()];
        double worst = 0;
        for (int t = 0; ; t++) {
            List<Integer> round = new ArrayList<>();
            for (int k = 0; k < ks.size(); k++) {
                if (t < ks.get(k).events.size()) {
                    round.add(k);
                }
            }
            if (round.isEmpty()) {
                break;
            }
            int n = round.size();
            KeyState[] st = new KeyState[n];
            int[] tokens = m.config().input().tokens() ? new int[n] : null;
            float[][] features = tokens == null ? new float[n][] : null;
            for (int i = 0; i < n; i++) {
                BatchScorerTest.KeyEvents ke = ks.get(round.get(i));
                st[i] = states[round.get(i)];
                JsonNode e = ke.events.get(t);
                if (tokens != null) {
                    tokens[i] = e.get("token").asInt();
                } else {
                    features[i] = floats(e.get("features"));
                }
            }
            scorer.stepKeys(st, tokens, features, n, outs);
            for (int i = 0; i < n; i++) {
                JsonNode want = ks.get(round.get(i)).expected.get(t);
                float[] expected = want.has("probs") ? floats(want.get("probs")) : new float[] {(float) want.get("score").asDouble()};
                for (int j = 0; j < expected.length; j++) {
                    worst = Math.max(worst, Math.abs(outs[i][j] - expected[j]) / (1e-4 + 1e-4 * Math.abs(expected[j])));
                }
            }
        }
        assertTrue(worst <= 1.0, name + ": worst error " + worst + " of tolerance");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4, 7, 16})
    void equalsSteppingKeyByKey(int count) {
        String config = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":12},\"post\":\"glu\","
                + "\"mlp\":{\"hidden\":24}},{\"mixer\":{\"type\":\"gru\",\"d_state\":8}},"
                + "{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":5,\"sinks\":1}}]");
        Model m = TestModels.random(config, 3);
        SplittableRandom rnd = new SplittableRandom(count);
        KeyState[] a = new KeyState[count];
        KeyState[] b = new KeyState[count];
        Scorer one = m.newScorer();
        Scorer many = m.newScorer();
        float[] out = new float[1];
        for (int k = 0; k < count; k++) {
            a[k] = m.newState();
            for (int i = rnd.nextInt(20); i > 0; i--) {
                one.stepToken(a[k], rnd.nextInt(32), out); // keys at different positions
            }
            b[k] = a[k].copy();
        }
        float[][] outs = new float[count][1];
        int[] tokens = new int[count];
        for (int round = 0; round < 30; round++) {
            for (int k = 0; k < count; k++) {
                tokens[k] = rnd.nextInt(32);
            }
            many.stepKeys(b, tokens, null, count, outs);
            for (int k = 0; k < count; k++) {
                one.stepToken(a[k], tokens[k], out);
                assertEquals(out[0], outs[k][0], 1e-5f * Math.max(1, Math.abs(out[0])), "round " + round + " key " + k);
            }
        }
        for (int k = 0; k < count; k++) {
            assertEquals(a[k].position(), b[k].position());
            float[] x = a[k].values();
            float[] y = b[k].values();
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], y[i], 1e-5f * Math.max(1, Math.abs(x[i])), "key " + k + " state " + i);
            }
        }
    }

    @Test
    void aBadEventOrARepeatedKeyChangesNoState() {
        Model m = TestModels.random(TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":4}}]"), 1);
        Scorer s = m.newScorer();
        KeyState k0 = m.newState();
        KeyState k1 = m.newState();
        float[] before = k0.values().clone();
        float[][] outs = new float[2][1];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> s.stepKeys(new KeyState[] {k0, k1}, new int[] {3, 99}, null, 2, outs));
        assertEquals("event 1: token 99 out of range [0, 32)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> s.stepKeys(new KeyState[] {k0, k0}, new int[] {3, 4}, null, 2, outs));
        assertTrue(e.getMessage().contains("same key"), e.getMessage());
        assertArrayEquals(before, k0.values());
        assertEquals(m.newState().position(), k0.position());
    }

    private static float[] floats(JsonNode a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) a.get(i).asDouble();
        }
        return f;
    }
}
