package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import java.nio.file.Path;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job's metrics reach Flink's metric system with the right values. */
class MetricsTest {
    @TempDir
    Path tmp;

    @Test
    void countsEventsScoresRejectionsKeysAndStepTimes() throws Exception {
        Path root = TestModels.repoRoot();
        JobOptions o = Jobs.fileJob(root.resolve("examples/models/reference-lru"), root.resolve("examples/events/bad.jsonl"),
                tmp.resolve("out"), tmp.resolve("chk"));
        Configuration c = Jobs.config(o, false);
        c.setString("metrics.reporter.collect.factory.class", CollectingReporter.Factory.class.getName());
        CollectingReporter.FINAL.clear();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(c);
        ScoringJob.build(env, o);
        env.execute(o.jobName);
        // Tasks unregister their metrics as they shut down, which can finish after execute()
        // returns: wait for the last one of the scoring task and of the parsing task (two tasks,
        // which shut down in either order).
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!(CollectingReporter.FINAL.containsKey("lseq.latencyNanos")
                && CollectingReporter.FINAL.containsKey("lseq.recordsIn")
                && CollectingReporter.FINAL.containsKey("lseq.recordsRejected")) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        // bad.jsonl: 15 lines, 5 valid events over 3 keys, 10 rejected.
        assertEquals(15L, CollectingReporter.FINAL.get("lseq.recordsIn"), CollectingReporter.FINAL.toString());
        assertEquals(10L, CollectingReporter.FINAL.get("lseq.recordsRejected"));
        assertEquals(5L, CollectingReporter.FINAL.get("lseq.eventsIn"));
        assertEquals(5L, CollectingReporter.FINAL.get("lseq.scoresOut"));
        assertEquals(3L, CollectingReporter.FINAL.get("lseq.keysWithState"));
        assertEquals(5L, CollectingReporter.FINAL.get("lseq.stepTimeNanos"));
        assertEquals(5L, CollectingReporter.FINAL.get("lseq.latencyNanos"));
    }
}
