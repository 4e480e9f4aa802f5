package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The streaming job on files, on both state backends: the same scores as {@code lseq score}. */
class FileJobTest {
    static final Path ROOT = TestModels.repoRoot();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void scoresEqualTheCommandLineAndBadLinesAreDeadLettered(String backend) throws Exception {
        Path model = ROOT.resolve("examples/models/reference-lru");
        Path events = ROOT.resolve("examples/events/bad.jsonl");
        JobOptions o = Jobs.fileJob(model, events, tmp.resolve("out"), tmp.resolve("chk"));
        o.stateBackend = backend;
        o.parallelism = 2;
        Jobs.run(o);

        Map<String, Score> got = Jobs.byKeySeq(Jobs.committedLines(tmp.resolve("out/scores")));
        Map<String, Score> want = Jobs.byKeySeq(Jobs.referenceScores(model, events, tmp));
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            assertArrayEquals(want.get(k).values(), got.get(k).values(), k);
            assertEquals(want.get(k).id(), got.get(k).id(), k);
            assertEquals(want.get(k).ts(), got.get(k).ts(), k);
        }
        List<String> dead = Jobs.committedLines(tmp.resolve("out/dead"));
        assertEquals(10, dead.size(), String.join("\n", dead));
        for (String d : dead) {
            DeadLetter l = Json.parseDeadLetter(d);
            assertTrue(l.source().startsWith(events + ":"), l.source());
        }
    }
}
