package io.lseq.tests.flink;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.CliRunner;
import io.lseq.connectors.Endpoint;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.backfill.BackfillJob;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import io.lseq.flink.savepoint.SourceOffsets;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SourceOffsets}: a stop-with-savepoint of the streaming job records, per partition, the
 * next offset after the last event it scored (N events produced to a partition: offset N; a
 * partition it never read: a marker that resolves to its beginning); {@code lseq backfill
 * --until-savepoint} and the cluster backfill's {@code untilSavepoint} stop there although the
 * topic has grown since, and commit those offsets for the group.
 */
class SourceOffsetsTest {
    static final Path MODEL = TestModels.repoRoot().resolve("examples/models/reference-lru");

    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    @TempDir
    Path tmp;

    @Test
    void aStopWithSavepointRecordsTheNextOffsetOfEveryPartitionAndBackfillsStopThere() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("so-in", 3);
        kafka.createTopic("so-out", 1);
        List<String> events = KafkaJobs.tokenEvents(10, 60, 512, 5);
        List<String> before = events.subList(0, 400);
        long[] produced = produce(kafka, before);
        assertEquals(0, produced[2], "partition 2 gets no event");

        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, "so-in", "so-out", null, tmp.resolve("chk"));
        o.groupId = "so-job";
        o.parallelism = 2;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, false));
        ScoringJob.build(env, o);
        JobClient job = env.executeAsync(o.jobName);
        String savepoint;
        try {
            assertEquals(400, kafka.consumeAll("so-out", true, 400, Duration.ofSeconds(120)).size());
            savepoint = job.stopWithSavepoint(false, tmp.resolve("sp").toUri().toString(), SavepointFormatType.CANONICAL)
                    .get();
        } catch (Exception e) {
            job.cancel();
            throw e;
        }
        Map<TopicPartition, Long> recorded = SourceOffsets.read(savepoint);
        System.out.println("source offsets recorded by the stop-with-savepoint: " + recorded);
        assertEquals(produced[0], recorded.get(new TopicPartition("so-in", 0)));
        assertEquals(produced[1], recorded.get(new TopicPartition("so-in", 1)));

        produce(kafka, events.subList(400, events.size())); // the topic grows after the stop
        Endpoint topic = Endpoint.parse("--input", "kafka://" + kafka.bootstrapServers() + "/so-in");
        Map<TopicPartition, Long> stop = SourceOffsets.historyStop(savepoint, topic, new Properties(), "so-job");
        assertEquals(Map.of(new TopicPartition("so-in", 0), produced[0], new TopicPartition("so-in", 1), produced[1],
                new TopicPartition("so-in", 2), 0L), stop);

        // One process: stops at the savepoint, not at the topic's end; states as a backfill of the 400.
        Path single = tmp.resolve("single");
        CliRunner.Result r = CliRunner.run("backfill", "--model", MODEL.toString(), "--input", topic.toString(),
                "--until-savepoint", savepoint, "--group-id", "so-next", "--savepoint", single.toString(),
                "--device", "cpu");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains(" 400 events,"), r.err());
        Path file = Files.write(tmp.resolve("before.jsonl"), before);
        Path fromFile = tmp.resolve("from-file");
        assertEquals(0, CliRunner.run("backfill", "--model", MODEL.toString(), "--input", file.toString(),
                "--savepoint", fromFile.toString(), "--device", "cpu", "--quiet").status());
        assertSameStates(fromFile, single);
        assertEquals(stop, committed(kafka, "so-next"));

        // The cluster job (here a MiniCluster) stops at the same place.
        BackfillJob.Options b = new BackfillJob.Options();
        b.input = topic;
        b.untilSavepoint = savepoint;
        b.savepoint = tmp.resolve("cluster").toUri().toString();
        b.device = "cpu";
        b.parallelism = 2;
        b.groupId = "so-cluster";
        BackfillJob.Result result = BackfillJob.run(
                StreamExecutionEnvironment.getExecutionEnvironment(BackfillJob.configuration(b)), b, ModelSource.read(MODEL));
        assertEquals(400, result.events());
        assertSameStates(fromFile, tmp.resolve("cluster"));
        assertEquals(stop, committed(kafka, "so-cluster"));

        // A backfill's savepoint records no positions; another topic is not this job's history.
        IOException none = assertThrows(IOException.class, () -> SourceOffsets.read(single.toString()));
        assertTrue(none.getMessage().contains("no state of the streaming job's source"), none.getMessage());
        kafka.createTopic("so-other", 1);
        CliRunner.Result other = CliRunner.run("backfill", "--model", MODEL.toString(), "--input",
                "kafka://" + kafka.bootstrapServers() + "/so-other", "--until-savepoint", savepoint, "--savepoint",
                tmp.resolve("other").toString());
        assertEquals(2, other.status(), other.err());
        assertTrue(other.err().contains("holds no position in topic so-other"), other.err());
    }

    /** Produces each event to partition 0 or 1 by its key (never 2); returns the events per partition. */
    private static long[] produce(EmbeddedKafka kafka, List<String> events) {
        long[] n = new long[3];
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (String e : events) {
            String key = e.replaceAll("^\\{\"key\":\"([^\"]*)\".*", "$1");
            int p = Math.floorMod(key.hashCode(), 2);
            n[p]++;
            records.add(new ProducerRecord<>("so-in", p, key.getBytes(UTF_8), e.getBytes(UTF_8)));
        }
        kafka.produce("so-in", records);
        return n;
    }

    private static Map<TopicPartition, Long> committed(EmbeddedKafka kafka, String group) throws Exception {
        Map<TopicPartition, Long> offsets = new java.util.HashMap<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : kafka.admin().listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get().entrySet()) {
            offsets.put(e.getKey(), e.getValue().offset());
        }
        return offsets;
    }

    private static void assertSameStates(Path want, Path got) throws Exception {
        Model model = Model.load(MODEL);
        Map<String, Tuple3<String, Long, float[]>> w = ClusterBackfillKafkaTest.read(model, want);
        Map<String, Tuple3<String, Long, float[]>> g = ClusterBackfillKafkaTest.read(model, got);
        assertEquals(w.keySet(), g.keySet());
        for (String key : w.keySet()) {
            assertEquals(w.get(key).f1, g.get(key).f1, key + " position");
            assertArrayEquals(w.get(key).f2, g.get(key).f2, key + " state");
        }
    }
}
