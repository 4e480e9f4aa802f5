package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --delivery at-least-once} to Kafka: scores are visible before any checkpoint, and a
 * failure repeats the scores since the last checkpoint with identical bytes, so that
 * deduplicating by (key, seq) gives exactly {@code lseq score} on the same input.
 */
class AtLeastOnceTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final Path MODEL = TestModels.repoRoot().resolve("examples/models/reference-lru");
    static final int KEYS = 20;
    static final int PER_KEY = 300;
    /** Scores a subtask passes after a checkpoint barrier before the injected failure. */
    static final int SCORES_BEFORE_FAILURE = 300;

    @TempDir
    Path tmp;

    /**
     * Fails the job once, mid-stream: after a checkpoint has completed, on the
     * {@value #SCORES_BEFORE_FAILURE}+1st score of a subtask since its last barrier. It first
     * sleeps a little so that the scores before it reach the broker (the sink is chained behind
     * it, so they are already in the producer): those are the scores the restart repeats.
     */
    static final class FailAfterUncheckpointedScores extends RichMapFunction<Score, Score>
            implements CheckpointListener, CheckpointedFunction {
        private static final long serialVersionUID = 1L;
        static final AtomicBoolean FAILED = new AtomicBoolean();
        static final AtomicInteger CHECKPOINTS = new AtomicInteger();
        static final AtomicInteger SENT_SINCE_BARRIER = new AtomicInteger();
        private transient int sinceBarrier;

        @Override
        public Score map(Score s) throws Exception {
            if (CHECKPOINTS.get() > 0 && sinceBarrier >= SCORES_BEFORE_FAILURE && FAILED.compareAndSet(false, true)) {
                SENT_SINCE_BARRIER.set(sinceBarrier);
                Thread.sleep(300); // linger.ms is 5: the producer sends what it holds
                throw new IllegalStateException("injected failure after a completed checkpoint");
            }
            sinceBarrier++;
            return s;
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {
            sinceBarrier = 0;
        }

        @Override
        public void initializeState(FunctionInitializationContext context) {}

        @Override
        public void notifyCheckpointComplete(long id) {
            CHECKPOINTS.incrementAndGet();
        }
    }

    @Test
    void aFailureRepeatsScoresWithIdenticalBytesAndLosesNothing() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        String in = "alo-events";
        String out = "alo-scores";
        String dead = "alo-dead";
        kafka.createTopic(in, 4);
        kafka.createTopic(out, 3);
        kafka.createTopic(dead, 1);
        FailAfterUncheckpointedScores.FAILED.set(false);
        FailAfterUncheckpointedScores.CHECKPOINTS.set(0);
        List<String> events = new ArrayList<>(KafkaJobs.tokenEvents(KEYS, PER_KEY, 512, 23));
        events.add(100, "{\"key\":\"key-1\",\"token\":-1}"); // two dead letters, through the at-least-once dead-letter sink
        events.add(200, "not json");
        Path file = Files.write(tmp.resolve("in.jsonl"), events);
        int half = events.size() / 2;
        KafkaJobs.publish(kafka, in, events.subList(0, half), tmp.resolve("first.jsonl"));

        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, in, out, dead, tmp.resolve("chk"));
        o.delivery = DeliveryGuarantee.AT_LEAST_ONCE;
        o.transactionalIdPrefix = null;
        o.checkpointInterval = Duration.ofSeconds(1);
        o.parallelism = 2;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, true));
        ModelSource model = ModelSource.read(o.model);
        Model m = model.load();
        DataStream<Event> parsed = ScoringJob.events(env, o, m);
        ScoringJob.sinkScores(ScoringJob.score(parsed, o, model).map(new FailAfterUncheckpointedScores())
                .name("fail once"), o);

        Map<String, Score> want = Jobs.byKeySeq(Jobs.referenceScores(o.model, file, tmp));
        assertEquals(KEYS * PER_KEY, want.size());
        JobClient job = env.executeAsync(o.jobName);
        Map<String, List<byte[]>> got;
        List<ConsumerRecord<byte[], byte[]>> records;
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (FailAfterUncheckpointedScores.CHECKPOINTS.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(FailAfterUncheckpointedScores.CHECKPOINTS.get() > 0, "a checkpoint completed");
            KafkaJobs.publish(kafka, in, events.subList(half, events.size()), tmp.resolve("second.jsonl"));
            // A plain consumer (no transactions to wait for), until every (key, seq) has arrived
            // and nothing more comes.
            do {
                records = kafka.consumeUntilQuiet(out, false, Duration.ofSeconds(3), Duration.ofSeconds(60));
                got = byKeySeqAll(records);
            } while (got.size() < want.size() && System.nanoTime() < deadline + 60_000_000_000L);
        } finally {
            job.cancel().get();
        }

        assertTrue(FailAfterUncheckpointedScores.FAILED.get(), "the failure was injected");
        assertEquals(want.keySet(), got.keySet(), "every (key, seq) at least once, nothing else");
        int repeats = records.size() - got.size();
        System.out.printf(Locale.ROOT, "at-least-once: %d scores read for %d (key, seq): %d repeats "
                + "(the failing subtask had passed %d scores since its last barrier)%n",
                records.size(), got.size(), repeats, FailAfterUncheckpointedScores.SENT_SINCE_BARRIER.get());
        assertTrue(repeats > 0, "the failure replayed scores");
        for (Map.Entry<String, List<byte[]>> e : got.entrySet()) {
            byte[] first = e.getValue().get(0);
            for (byte[] again : e.getValue()) {
                assertArrayEquals(first, again, () -> e.getKey() + " repeated with other bytes: "
                        + new String(first, StandardCharsets.UTF_8) + " vs " + new String(again, StandardCharsets.UTF_8));
            }
        }
        List<String> deduplicated = new ArrayList<>();
        got.values().forEach(v -> deduplicated.add(new String(v.get(0), StandardCharsets.UTF_8)));
        Map<String, Score> dedup = Jobs.byKeySeq(deduplicated);
        for (Map.Entry<String, Score> e : want.entrySet()) {
            Score g = dedup.get(e.getKey());
            assertArrayEquals(e.getValue().values(), g.values(), e.getKey());
            assertEquals(e.getValue().ts(), g.ts(), e.getKey());
            assertEquals(e.getValue().id(), g.id(), e.getKey());
        }
        // The dead-letter sink follows the same mode: both rejects, possibly more than once.
        List<String> deadLetters = KafkaJobs.values(kafka.consumeUntilQuiet(dead, false, Duration.ofSeconds(1),
                Duration.ofSeconds(20)));
        assertEquals(2, deadLetters.stream().distinct().count(), deadLetters.toString());
    }

    /** Counts completed checkpoints (there must be none in the visibility test). */
    static final class CountCheckpoints extends RichMapFunction<Score, Score> implements CheckpointListener {
        private static final long serialVersionUID = 1L;
        static final AtomicInteger COMPLETED = new AtomicInteger();

        @Override
        public Score map(Score s) {
            return s;
        }

        @Override
        public void notifyCheckpointComplete(long id) {
            COMPLETED.incrementAndGet();
        }
    }

    /**
     * With no checkpoint in sight (interval and minimum pause 1 h), scores of events produced at
     * 10/s reach a plain consumer within milliseconds: what exactly-once cannot do before its
     * first checkpoint. Prints the produce-to-visible latencies.
     */
    @Test
    void scoresAreVisibleBeforeAnyCheckpoint() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        String in = "vis-events";
        String out = "vis-scores";
        kafka.createTopic(in, 2);
        kafka.createTopic(out, 1);
        CountCheckpoints.COMPLETED.set(0);
        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, in, out, null, tmp.resolve("chk"));
        o.delivery = DeliveryGuarantee.AT_LEAST_ONCE;
        o.transactionalIdPrefix = null;
        o.checkpointInterval = Duration.ofHours(1);
        Configuration c = Jobs.config(o, false);
        c.set(CheckpointingOptions.MIN_PAUSE_BETWEEN_CHECKPOINTS, Duration.ofHours(1)); // the first one, too
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(c);
        ModelSource model = ModelSource.read(o.model);
        ScoringJob.sinkScores(ScoringJob.score(ScoringJob.events(env, o, model.load()), o, model)
                .map(new CountCheckpoints()).name("count checkpoints"), o);

        Map<String, Object> pp = kafka.clientProperties();
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        Map<String, Object> cp = kafka.clientProperties();
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        Map<String, Long> sentAt = new ConcurrentHashMap<>();
        Map<String, Long> latencyNanos = new LinkedHashMap<>();
        int timed = 40;
        JobClient job = env.executeAsync(o.jobName);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer());
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(out, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            // Until the job runs: one event, then wait for its score.
            sentAt.put("warm/0", System.nanoTime());
            producer.send(new ProducerRecord<>(in, bytes("warm"), bytes("{\"key\":\"warm\",\"token\":1}"))).get();
            Thread producing = new Thread(() -> {
                try {
                    while (!latencyNanos.containsKey("warm/0")) {
                        Thread.sleep(10);
                    }
                    for (int i = 0; i < timed; i++) { // 10 events/s over 5 keys
                        String key = "user-" + (i % 5);
                        sentAt.put(key + "/" + (i / 5), System.nanoTime());
                        producer.send(new ProducerRecord<>(in, bytes(key),
                                bytes("{\"key\":\"" + key + "\",\"token\":" + (i * 7 % 512) + "}")));
                        Thread.sleep(100);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "producer at 10/s");
            producing.setDaemon(true);
            producing.start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (latencyNanos.size() < timed + 1 && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(5))) {
                    long now = System.nanoTime();
                    Score s = Json.parseScore(new String(r.value(), StandardCharsets.UTF_8));
                    String ks = s.key() + "/" + s.seq();
                    latencyNanos.putIfAbsent(ks, now - sentAt.get(ks));
                }
            }
            producing.join(10_000);
        } finally {
            job.cancel().get();
        }
        assertEquals(timed + 1, latencyNanos.size(), "every score arrived: " + latencyNanos.keySet());
        assertEquals(0, CountCheckpoints.COMPLETED.get(), "no checkpoint completed");
        long[] ms = latencyNanos.entrySet().stream().filter(e -> !e.getKey().equals("warm/0"))
                .mapToLong(e -> e.getValue() / 1_000_000).sorted().toArray();
        long p50 = ms[ms.length / 2];
        long p99 = ms[(int) Math.ceil(ms.length * 0.99) - 1];
        System.out.printf(Locale.ROOT, "at-least-once visibility, %d events at 10/s: produce to visible p50 %d ms, "
                + "p99 %d ms, max %d ms (first event, job starting: %d ms); checkpoints completed: 0%n",
                ms.length, p50, p99, ms[ms.length - 1], latencyNanos.get("warm/0") / 1_000_000);
        assertTrue(p50 < 1000, "p50 " + p50 + " ms " + Arrays.toString(ms));
        assertTrue(ms[ms.length - 1] < 5000, "max " + ms[ms.length - 1] + " ms " + Arrays.toString(ms));
    }

    /** Every record's value by "key/seq", repeats kept, in the order read. */
    private static Map<String, List<byte[]>> byKeySeqAll(List<ConsumerRecord<byte[], byte[]>> records) {
        Map<String, List<byte[]>> out = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            Score s = Json.parseScore(new String(r.value(), StandardCharsets.UTF_8));
            out.computeIfAbsent(s.key() + "/" + s.seq(), k -> new ArrayList<>()).add(r.value());
        }
        return out;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
