package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The streaming job between real Kafka topics (an in-process KRaft broker) on a MiniCluster:
 * 20 keys x 500 interleaved events; what a read_committed consumer sees must equal
 * {@code lseq score} on the same input, every (key, seq) exactly once, with or without a failure.
 */
class KafkaJobTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final Path MODEL = TestModels.repoRoot().resolve("examples/models/reference-lru");
    static final int KEYS = 20;
    static final int PER_KEY = 500;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void committedScoresEqualTheCommandLineExactlyOnce(String backend) throws Exception {
        String in = "events-" + backend;
        String out = "scores-" + backend;
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic(in, 4);
        kafka.createTopic(out, 3);
        Path file = KafkaJobs.publish(kafka, in, KafkaJobs.tokenEvents(KEYS, PER_KEY, 512, 7), tmp.resolve("in.jsonl"));
        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, in, out, null, tmp.resolve("chk"));
        o.stateBackend = backend;
        o.parallelism = 2;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, true));
        ScoringJob.build(env, o);
        assertExactlyOnceAndEqual(env, o, file, out);
    }

    /** Fails the job once: on the first score after a checkpoint has completed. */
    static final class FailOnce extends RichMapFunction<Score, Score> implements CheckpointListener {
        private static final long serialVersionUID = 1L;
        static final AtomicBoolean FAILED = new AtomicBoolean();
        static final AtomicInteger CHECKPOINTS = new AtomicInteger();

        @Override
        public Score map(Score s) {
            if (CHECKPOINTS.get() > 0 && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("injected failure after a completed checkpoint");
            }
            return s;
        }

        @Override
        public void notifyCheckpointComplete(long id) {
            CHECKPOINTS.incrementAndGet();
        }
    }

    /** Also with micro-batches: held events are flushed before each barrier, so nothing changes. */
    @ParameterizedTest
    @ValueSource(ints = {1, 16})
    void aFailureAfterACheckpointChangesNothingInTheCommittedOutput(int microBatch) throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        String in = "events-fail-" + microBatch;
        String out = "scores-fail-" + microBatch;
        kafka.createTopic(in, 4);
        kafka.createTopic(out, 3);
        FailOnce.FAILED.set(false);
        FailOnce.CHECKPOINTS.set(0);
        // The first half is scored and checkpointed; the second half arrives after that
        // checkpoint, so the failure hits the middle of the stream whatever the scoring speed.
        List<String> events = KafkaJobs.tokenEvents(KEYS, PER_KEY, 512, 11);
        Path file = java.nio.file.Files.write(tmp.resolve("in.jsonl"), events);
        int half = events.size() / 2;
        KafkaJobs.publish(kafka, in, events.subList(0, half), tmp.resolve("first.jsonl"));
        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, in, out, null, tmp.resolve("chk"));
        o.microBatch = microBatch;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, true));
        ModelSource model = ModelSource.read(o.model);
        Model m = model.load();
        DataStream<Event> events0 = ScoringJob.events(env, o, m);
        ScoringJob.sinkScores(ScoringJob.score(events0, o, model).map(new FailOnce()).name("fail once"), o);
        assertExactlyOnceAndEqual(env, o, file, out, () -> {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (FailOnce.CHECKPOINTS.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            KafkaJobs.publish(kafka, in, events.subList(half, events.size()), tmp.resolve("second.jsonl"));
        });
        assertTrue(FailOnce.FAILED.get(), "the failure was injected");
    }

    /** Something to do once the job runs. */
    interface WhileRunning {
        void run() throws Exception;
    }

    private void assertExactlyOnceAndEqual(StreamExecutionEnvironment env, JobOptions o, Path file, String out)
            throws Exception {
        assertExactlyOnceAndEqual(env, o, file, out, () -> { });
    }

    private void assertExactlyOnceAndEqual(StreamExecutionEnvironment env, JobOptions o, Path file, String out,
                                           WhileRunning whileRunning) throws Exception {
        JobClient job = env.executeAsync(o.jobName);
        try {
            whileRunning.run();
            List<String> committed = KafkaJobs.values(KAFKA.kafka().consumeAll(out, true, KEYS * PER_KEY,
                    Duration.ofSeconds(180)));
            // Anything extra would arrive within a few more checkpoints.
            Thread.sleep(2000);
            committed = KafkaJobs.values(KAFKA.kafka().consumeUntilQuiet(out, true, Duration.ofSeconds(2),
                    Duration.ofSeconds(30)));
            Map<String, Score> got = Jobs.byKeySeq(committed); // fails on any duplicate
            Map<String, Score> want = Jobs.byKeySeq(Jobs.referenceScores(o.model, file, tmp));
            assertEquals(KEYS * PER_KEY, want.size());
            assertEquals(want.keySet(), got.keySet(), "every (key, seq) exactly once");
            for (Map.Entry<String, Score> e : want.entrySet()) {
                Score g = got.get(e.getKey());
                assertArrayEquals(e.getValue().values(), g.values(), e.getKey());
                assertEquals(e.getValue().ts(), g.ts(), e.getKey());
                assertEquals(e.getValue().id(), g.id(), e.getKey());
            }
        } finally {
            job.cancel().get();
        }
    }
}
