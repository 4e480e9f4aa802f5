package io.lseq.flink.backfill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.Event;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Whatever the window (a batch per few events, or the whole history in one), every key ends at
 * the state the step path reaches over its events, with its position exact.
 */
class BackfillTest {
    @Test
    void everyWindowEndsWhereTheStepPathDoes() throws Exception {
        Model m = TestModels.random(TestModels.tokensConfig(
                "[{\"mixer\":{\"type\":\"lru\",\"d_state\":16}},{\"mixer\":{\"type\":\"gru\",\"d_state\":12}}]"), 3);
        SplittableRandom rnd = new SplittableRandom(4);
        List<Event> events = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            // Keys of very different lengths, interleaved.
            String key = "k" + (rnd.nextInt(10) < 3 ? rnd.nextInt(3) : rnd.nextInt(200));
            events.add(new Event(key, null, null, rnd.nextInt(32), null));
        }
        Scorer step = m.newScorer();
        Map<String, KeyState> want = new java.util.HashMap<>();
        float[] out = new float[1];
        for (Event e : events) {
            step.stepToken(want.computeIfAbsent(e.key(), k -> m.newState()), e.token(), out);
        }
        for (int window : new int[] {1, 7, 1000, 1 << 20}) {
            try (Backfill b = new Backfill(m, new BatchScorer(m, 2), window)) {
                for (Event e : events) {
                    b.add(e);
                }
                b.finish();
                assertEquals(events.size(), b.events());
                assertEquals(want.size(), b.states().size());
                for (Map.Entry<String, KeyState> e : want.entrySet()) {
                    KeyState got = b.states().get(e.getKey());
                    assertEquals(e.getValue().position(), got.position(), e.getKey());
                    float[] a = got.values();
                    float[] w = e.getValue().values();
                    for (int i = 0; i < w.length; i++) {
                        assertTrue(Math.abs(a[i] - w[i]) <= 1e-4 + 1e-4 * Math.abs(w[i]),
                                "window " + window + ", " + e.getKey() + " state[" + i + "]: " + a[i] + " vs step " + w[i]);
                    }
                }
            }
        }
    }
}
