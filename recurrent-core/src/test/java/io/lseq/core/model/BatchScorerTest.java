package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The batch path against the float64 reference (the goldens) and against the step path's final
 * states: every mixer and head, keys cut into runs of random length (so runs continue from
 * states left by earlier runs), on one thread and on two.
 */
class BatchScorerTest {
    static List<String> cases() throws IOException {
        return GoldenTest.cases().toList();
    }

    /** One key's events and expected outputs, in order. */
    static final class KeyEvents {
        final List<JsonNode> events = new ArrayList<>();
        final List<JsonNode> expected = new ArrayList<>();
    }

    static Map<String, KeyEvents> byKey(Path dir) throws IOException {
        List<JsonNode> events = GoldenTest.readGz(dir.resolve("events.jsonl.gz"));
        List<JsonNode> expected = GoldenTest.readGz(dir.resolve("expected.jsonl.gz"));
        Map<String, KeyEvents> keys = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            KeyEvents k = keys.computeIfAbsent(events.get(i).get("key").asText(), x -> new KeyEvents());
            k.events.add(events.get(i));
            k.expected.add(expected.get(i));
        }
        return keys;
    }

    static Sequence sequence(Model m, KeyState st, List<JsonNode> events, int from, int to) {
        int n = to - from;
        float[] out = new float[n * m.outputSize()];
        if (m.config().input().tokens()) {
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = events.get(from + i).get("token").asInt();
            }
            return new Sequence(st, tokens, null, out);
        }
        float[][] f = new float[n][];
        for (int i = 0; i < n; i++) {
            JsonNode a = events.get(from + i).get("features");
            f[i] = new float[a.size()];
            for (int j = 0; j < f[i].length; j++) {
                f[i][j] = (float) a.get(j).asDouble();
            }
        }
        return new Sequence(st, null, f, out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheReferenceAndTheStepPath(String name) throws IOException {
        Path dir = GoldenTest.GOLDEN.resolve(name);
        Model m = Model.load(dir);
        Map<String, KeyEvents> keys = byKey(dir);
        for (int threads : new int[] {1, 2}) {
            SplittableRandom rnd = new SplittableRandom(threads);
            Map<String, KeyState> states = new LinkedHashMap<>();
            Map<String, Integer> done = new LinkedHashMap<>();
            keys.keySet().forEach(k -> {
                states.put(k, m.newState());
                done.put(k, 0);
            });
            double worst = 0;
            try (BatchScorer batch = new BatchScorer(m, threads)) {
                boolean more = true;
                while (more) {
                    more = false;
                    List<Sequence> round = new ArrayList<>();
                    List<String> roundKeys = new ArrayList<>();
                    for (Map.Entry<String, KeyEvents> e : keys.entrySet()) {
                        int from = done.get(e.getKey());
                        int total = e.getValue().events.size();
                        if (from == total) {
                            continue;
                        }
                        // Whole keys on the first pass of the 1-thread run; random runs otherwise.
                        int to = threads == 1 && from == 0 && rnd.nextBoolean() ? total
                                : Math.min(total, from + 1 + rnd.nextInt(1500));
                        round.add(sequence(m, states.get(e.getKey()), e.getValue().events, from, to));
                        roundKeys.add(e.getKey());
                        more = true;
                    }
                    batch.score(round);
                    for (int r = 0; r < round.size(); r++) {
                        KeyEvents ke = keys.get(roundKeys.get(r));
                        int from = done.get(roundKeys.get(r));
                        float[] out = round.get(r).out();
                        int k = m.outputSize();
                        for (int i = 0; i < round.get(r).length(); i++) {
                            JsonNode want = ke.expected.get(from + i);
                            for (int j = 0; j < k; j++) {
                                double b = want.has("probs") ? want.get("probs").get(j).asDouble() : want.get("score").asDouble();
                                worst = Math.max(worst, Math.abs(out[i * k + j] - b) / (1e-4 + 1e-4 * Math.abs(b)));
                            }
                        }
                        done.put(roundKeys.get(r), from + round.get(r).length());
                    }
                }
            }
            System.out.printf("batch %-28s threads %d: worst error %.4f of tolerance%n", name, threads, worst);
            assertTrue(worst <= 1, name + ": worst error " + worst + " of tolerance");
            // Final states equal the step path's, within the same tolerance.
            Scorer step = m.newScorer();
            float[] out = new float[m.outputSize()];
            for (Map.Entry<String, KeyEvents> e : keys.entrySet()) {
                KeyState st = m.newState();
                for (JsonNode ev : e.getValue().events) {
                    Sequence one = sequence(m, st, List.of(ev), 0, 1);
                    if (one.tokens() != null) {
                        step.stepToken(st, one.tokens()[0], out);
                    } else {
                        step.stepFeatures(st, one.features()[0], out);
                    }
                }
                KeyState got = states.get(e.getKey());
                assertEquals(st.position(), got.position());
                for (int i = 0; i < st.values().length; i++) {
                    float a = got.values()[i];
                    float b = st.values()[i];
                    assertTrue(Math.abs(a - b) <= 1e-4 + 1e-4 * Math.abs(b), name + " state[" + i + "]: batch " + a + ", step " + b);
                }
            }
        }
    }

    @Test
    void oneLongKeyIsScannedInParallelChunks() throws IOException {
        Path dir = GoldenTest.GOLDEN.resolve("lru_long_memory");
        Model m = Model.load(dir);
        KeyEvents k = byKey(dir).values().iterator().next();
        Sequence s = sequence(m, m.newState(), k.events, 0, k.events.size());
        try (BatchScorer batch = new BatchScorer(m, 2)) {
            batch.score(List.of(s));
        }
        double worst = 0;
        for (int i = 0; i < s.length(); i++) {
            double b = k.expected.get(i).get("score").asDouble();
            worst = Math.max(worst, Math.abs(s.out()[i] - b) / (1e-4 + 1e-4 * Math.abs(b)));
        }
        assertTrue(worst <= 1, "worst " + worst);
        assertEquals(10_000, s.state().position());
    }

    @Test
    void badInputChangesNoState() throws IOException {
        Model m = Model.load(GoldenTest.GOLDEN.resolve("lru_next_token_bos"));
        KeyState a = m.newState();
        KeyState b = m.newState();
        float[] before = a.values().clone();
        List<Sequence> batch = List.of(new Sequence(a, new int[] {1, 2, 3}, null, new float[3]),
                new Sequence(b, new int[] {1, 64}, null, new float[2]));
        try (BatchScorer scorer = new BatchScorer(m, 1)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> scorer.score(batch)).getMessage();
            assertTrue(msg.contains("token 64 out of range [0, 64)"), msg);
        }
        assertEquals(1, a.position());
        assertTrue(java.util.Arrays.equals(before, a.values()));
    }

    /** A batch may score its sequences in any order, so two runs of one key are refused, before anything changes. */
    @Test
    void twoSequencesOfOneStateAreRefused() throws IOException {
        Model m = Model.load(GoldenTest.GOLDEN.resolve("lru_next_token_bos"));
        KeyState a = m.newState();
        List<Sequence> batch = List.of(new Sequence(a, new int[] {1, 2}, null, new float[2]),
                new Sequence(m.newState(), new int[] {3}, null, new float[1]),
                new Sequence(a, new int[] {4, 5}, null, new float[2]));
        try (BatchScorer scorer = new BatchScorer(m, 2)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> scorer.score(batch)).getMessage();
            assertEquals("sequences 0 and 2 share a state: give a key's events as one sequence", msg);
        }
        assertEquals(1, a.position());
    }

    /**
     * A batch that asks for no outputs ({@code out} null, as a backfill does) leaves every key's
     * state bit for bit where the same batch with outputs does, for every golden model; and a
     * batch may mix the two.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void statesOnlyEqualTheStatesOfAScoredBatch(String name) throws IOException {
        Path dir = GoldenTest.GOLDEN.resolve(name);
        Model m = Model.load(dir);
        Map<String, KeyEvents> keys = byKey(dir);
        try (BatchScorer batch = new BatchScorer(m, 2)) {
            List<Sequence> scored = new ArrayList<>();
            List<Sequence> statesOnly = new ArrayList<>();
            int i = 0;
            for (KeyEvents e : keys.values()) {
                scored.add(sequence(m, m.newState(), e.events, 0, e.events.size()));
                Sequence s = sequence(m, m.newState(), e.events, 0, e.events.size());
                // Every other key keeps its outputs: a mixed batch.
                statesOnly.add(i++ % 2 == 0 ? new Sequence(s.state(), s.tokens(), s.features(), null) : s);
            }
            batch.score(scored);
            batch.score(statesOnly);
            for (int k = 0; k < scored.size(); k++) {
                assertEquals(scored.get(k).state().position(), statesOnly.get(k).state().position());
                assertArrayEquals(scored.get(k).state().values(), statesOnly.get(k).state().values(), name + " key " + k);
                if (statesOnly.get(k).out() != null) {
                    assertArrayEquals(scored.get(k).out(), statesOnly.get(k).out(), name + " key " + k);
                }
            }
        }
    }

    static List<String> mixedBlocks() {
        return List.of("[{\"mixer\":{\"type\":\"gru\",\"d_state\":24}}]",
                "[{\"mixer\":{\"type\":\"lstm\",\"d_state\":20},\"mlp\":{\"hidden\":32}}]",
                "[{\"mixer\":{\"type\":\"lru\",\"d_state\":16}},{\"mixer\":{\"type\":\"gru\",\"d_state\":16},\"post\":\"none\"}]",
                "[{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":8}},{\"mixer\":{\"type\":\"lstm\",\"d_state\":16},\"post\":\"none\"}]");
    }

    /**
     * Many keys of ragged lengths (0 to 300 events, and one of 17,618, over three batches) go
     * through the blocks together, GRU and LSTM in lockstep: every output and final state equals
     * the step path's.
     */
    @ParameterizedTest
    @MethodSource("mixedBlocks")
    void manyRaggedKeysTogetherMatchTheStepPath(String blocks) {
        Model m = io.lseq.core.testing.TestModels.random(io.lseq.core.testing.TestModels.tokensConfig(blocks), 5);
        int keys = 37;
        SplittableRandom rnd = new SplittableRandom(9);
        int[][] tokens = new int[keys][];
        for (int k = 0; k < keys; k++) {
            // Key 1 is long enough that each of its three runs spans rounds of BatchScorer.PIECE
            // events, in rounds where it is the only key left (the path for few keys).
            int len = k == 1 ? 4 * BatchScorer.PIECE + 1234 : k % 9 == 0 ? 0 : rnd.nextInt(1, 300);
            tokens[k] = rnd.ints(len, 0, 32).toArray();
        }
        // The step path.
        Scorer step = m.newScorer();
        float[][] want = new float[keys][];
        KeyState[] stepStates = new KeyState[keys];
        float[] o = new float[1];
        for (int k = 0; k < keys; k++) {
            stepStates[k] = m.newState();
            want[k] = new float[tokens[k].length];
            for (int t = 0; t < tokens[k].length; t++) {
                step.stepToken(stepStates[k], tokens[k][t], o);
                want[k][t] = o[0];
            }
        }
        for (int threads : new int[] {1, 2}) {
            KeyState[] states = new KeyState[keys];
            float[][] got = new float[keys][];
            for (int k = 0; k < keys; k++) {
                states[k] = m.newState();
                got[k] = new float[tokens[k].length];
            }
            try (BatchScorer batch = new BatchScorer(m, threads)) {
                double[] cuts = {0, 0.3, 0.7, 1};
                for (int c = 0; c < 3; c++) {
                    List<Sequence> round = new ArrayList<>();
                    int[] from = new int[keys];
                    for (int k = 0; k < keys; k++) {
                        from[k] = (int) (tokens[k].length * cuts[c]);
                        int to = (int) (tokens[k].length * cuts[c + 1]);
                        round.add(new Sequence(states[k], java.util.Arrays.copyOfRange(tokens[k], from[k], to), null,
                                new float[to - from[k]]));
                    }
                    batch.score(round);
                    for (int k = 0; k < keys; k++) {
                        float[] out = round.get(k).out();
                        System.arraycopy(out, 0, got[k], from[k], out.length);
                    }
                }
            }
            for (int k = 0; k < keys; k++) {
                for (int t = 0; t < want[k].length; t++) {
                    assertTrue(Math.abs(got[k][t] - want[k][t]) <= 1e-4 + 1e-4 * Math.abs(want[k][t]),
                            threads + " threads, key " + k + " event " + t + ": batch " + got[k][t] + ", step " + want[k][t]);
                }
                assertEquals(stepStates[k].position(), states[k].position(), "position of key " + k);
                float[] a = states[k].values();
                float[] b = stepStates[k].values();
                for (int i = 0; i < b.length; i++) {
                    assertTrue(Math.abs(a[i] - b[i]) <= 1e-4 + 1e-4 * Math.abs(b[i]),
                            threads + " threads, key " + k + " state[" + i + "]: batch " + a[i] + ", step " + b[i]);
                }
            }
        }
    }
}
