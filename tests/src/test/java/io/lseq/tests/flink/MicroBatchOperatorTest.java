package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import io.lseq.flink.operator.ScoringOperator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * The scoring operator's micro-batches, driven event by event: when a batch is stepped (full, a
 * repeated key, the wait elapsed, a checkpoint barrier, the end of input), and that its scores,
 * in arrival order, are those of stepping each event alone.
 */
class MicroBatchOperatorTest {
    static final Path MODEL = TestModels.repoRoot().resolve("examples/models/reference-lru");

    private KeyedOneInputStreamOperatorTestHarness<String, Event, Score> harness(int batch, long waitMillis)
            throws Exception {
        ScoringOperator op = new ScoringOperator(ModelSource.read(MODEL), 0, batch, waitMillis);
        var h = new KeyedOneInputStreamOperatorTestHarness<>(op, new ScoringJob.EventKey(), Types.STRING, 128, 1, 0);
        h.setProcessingTime(0);
        h.open();
        return h;
    }

    private static Event event(String key, int token) {
        return new Event(key, null, key + "-" + token, token, null);
    }

    @Test
    void batchesFlushWhenFullOnARepeatedKeyAfterTheWaitAndAtABarrier() throws Exception {
        var h = harness(4, 10);
        List<Event> sent = new ArrayList<>();
        for (String k : new String[] {"a", "b", "c"}) {
            sent.add(event(k, 1));
            h.processElement(sent.get(sent.size() - 1), 5);
        }
        assertEquals(0, h.extractOutputValues().size(), "held: three of four");
        sent.add(event("d", 2));
        h.processElement(sent.get(3), 6);
        assertEquals(4, h.extractOutputValues().size(), "full: stepped");

        sent.add(event("a", 3));
        h.processElement(sent.get(4), 7);
        sent.add(event("a", 4));
        h.processElement(sent.get(5), 8);
        assertEquals(5, h.extractOutputValues().size(), "a repeated key steps the held a first");

        h.setProcessingTime(9);
        assertEquals(5, h.extractOutputValues().size(), "before the wait");
        h.setProcessingTime(10);
        assertEquals(6, h.extractOutputValues().size(), "the wait elapsed");

        sent.add(event("e", 5));
        h.processElement(sent.get(6), 9);
        h.prepareSnapshotPreBarrier(1);
        assertEquals(7, h.extractOutputValues().size(), "nothing held across a barrier");

        sent.add(event("f", 6));
        h.processElement(sent.get(7), 10);
        h.endInput();
        List<Score> out = h.extractOutputValues();
        assertEquals(8, out.size(), "nothing held at the end");
        assertEquals(List.of(5L, 5L, 5L, 6L, 7L, 8L, 9L, 10L),
                h.extractOutputStreamRecords().stream().map(r -> r.getTimestamp()).toList(), "record timestamps kept");
        assertSameAsOneByOne(sent, out);
        h.close();
    }

    @Test
    void manyKeysInterleavedScoreAsOneByOne() throws Exception {
        var h = harness(16, 5);
        List<Event> sent = new ArrayList<>();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int i = 0; i < 2000; i++) {
            Event e = event("k" + rnd.nextInt(40), rnd.nextInt(512));
            sent.add(e);
            h.processElement(e, i);
            if (i % 300 == 299) {
                h.setProcessingTime(i); // some batches go out on the timer
            }
        }
        h.endInput();
        assertSameAsOneByOne(sent, h.extractOutputValues());
        h.close();
    }

    /** The scores of stepping each event alone, in arrival order, with their seqs and ids. */
    private static void assertSameAsOneByOne(List<Event> sent, List<Score> got) {
        Model m = Model.load(MODEL);
        Scorer s = m.newScorer();
        Map<String, KeyState> states = new HashMap<>();
        float[] out = new float[1];
        assertEquals(sent.size(), got.size());
        for (int i = 0; i < sent.size(); i++) {
            Event e = sent.get(i);
            KeyState st = states.computeIfAbsent(e.key(), k -> m.newState());
            long seq = m.nextSeq(st);
            s.stepToken(st, e.token(), out);
            Score g = got.get(i);
            assertEquals(e.key(), g.key(), "event " + i);
            assertEquals(e.id(), g.id(), "event " + i);
            assertEquals(seq, g.seq(), "event " + i);
            assertArrayEquals(out, g.values(), "event " + i);
        }
    }
}
