package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.savepoint.SavepointBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Windowed attention and GAU, with attention sinks, in the streaming job: a key restored at
 * position 2^40 scores exactly like the same key at position ~0, so positions stay exact on
 * unbounded streams.
 */
class AttentionStreamingTest {
    /** W = 16 and 2^40 are both multiples of the window and of the RoPE rebase period. */
    static final String CONFIG = TestModels.tokensConfig(
            "[{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":16,\"logn_base\":8,\"sinks\":4}},"
            + "{\"mixer\":{\"type\":\"gau\",\"key_size\":8,\"window\":16,\"sinks\":2}}]");
    static final long FAR = 1L << 40;

    @TempDir
    Path tmp;

    @Test
    void aKeyAtPosition2To40ScoresLikeOneAtZero() throws Exception {
        Path dir = TestModels.writeRandom(tmp.resolve("model"), CONFIG, 5);
        Model model = Model.load(dir);
        Scorer scorer = model.newScorer();
        float[] out = new float[model.outputSize()];
        SplittableRandom rnd = new SplittableRandom(9);
        KeyState near = model.newState();
        for (int i = 0; i < 100; i++) {
            scorer.stepToken(near, rnd.nextInt(32), out); // past the window and the sinks
        }
        KeyState far = new KeyState(near.values().clone(), near.position() + FAR);
        Path savepoint = tmp.resolve("savepoint");
        SavepointBuilder.write(model, Map.of("near", near.copy(), "far", far), savepoint.toString(), 128);

        List<String> events = new ArrayList<>();
        List<float[]> want = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            int token = rnd.nextInt(32);
            events.add("{\"key\":\"near\",\"token\":" + token + "}");
            events.add("{\"key\":\"far\",\"token\":" + token + "}");
            scorer.stepToken(near, token, out);
            want.add(out.clone());
        }
        Path input = Files.write(tmp.resolve("events.jsonl"), events);
        JobOptions o = Jobs.fileJob(dir, input, tmp.resolve("out"), tmp.resolve("chk"));
        o.fromSavepoint = savepoint.toString();
        Jobs.run(o);

        Map<String, Score> got = Jobs.byKeySeq(Jobs.committedLines(tmp.resolve("out/scores")));
        assertEquals(600, got.size());
        long seq0 = model.nextSeq(far) - FAR;
        for (int i = 0; i < 300; i++) {
            Score n = got.get("near/" + (seq0 + i));
            Score f = got.get("far/" + (seq0 + FAR + i));
            assertArrayEquals(want.get(i), n.values(), "near, event " + i + " (the engine's step path)");
            assertArrayEquals(n.values(), f.values(), "far scores exactly as near, event " + i);
        }
    }
}
