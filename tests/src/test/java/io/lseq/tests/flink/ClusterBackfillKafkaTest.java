package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.Main;
import io.lseq.connectors.Endpoint;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.backfill.BackfillJob;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster backfill ({@link BackfillJob}, a BATCH job, here on a MiniCluster at parallelism 2)
 * over a Kafka topic of two partitions: its savepoint holds bit for bit the states of the
 * single-machine {@code lseq backfill} of the same topic; it commits the stop offsets for the
 * streaming job's group only after the savepoint is written; and the streaming job resumed from
 * the savepoint and those offsets scores exactly the events after the history, each once,
 * continuing its key, as streaming everything would.
 */
public class ClusterBackfillKafkaTest {
    static final Path ROOT = TestModels.repoRoot();
    static final Path MODEL = ROOT.resolve("examples/models/reference-lru");

    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    @TempDir
    Path tmp;

    @Test
    void theClusterJobMatchesTheSingleMachineBackfillAndTheJobResumesRightAfterIt() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("chist", 2);
        kafka.createTopic("chist-out", 1);
        List<String> events = KafkaJobs.tokenEvents(12, 100, 512, 9);
        KafkaJobs.publish(kafka, "chist", events.subList(0, 700), tmp.resolve("a.jsonl"));
        String topic = "kafka://" + kafka.bootstrapServers() + "/chist";

        Path single = tmp.resolve("single");
        assertEquals(0, Main.run(new String[] {"backfill", "--model", MODEL.toString(), "--input", topic, "--group-id",
            "g-single", "--savepoint", single.toString(), "--device", "cpu", "--quiet"}));

        BackfillJob.Options o = new BackfillJob.Options();
        o.input = Endpoint.parse("--input", topic);
        o.savepoint = tmp.resolve("cluster").toUri().toString();
        o.device = "cpu";
        o.parallelism = 2;
        o.groupId = "g-cluster";
        BackfillJob.Result r = BackfillJob.run(
                StreamExecutionEnvironment.getExecutionEnvironment(BackfillJob.configuration(o)), o,
                ModelSource.read(MODEL));
        assertEquals(700, r.events());
        assertEquals("g-cluster", r.group());

        Model model = Model.load(MODEL);
        Map<String, Tuple3<String, Long, float[]>> want = read(model, single);
        Map<String, Tuple3<String, Long, float[]>> got = read(model, tmp.resolve("cluster"));
        assertEquals(12, got.size());
        assertEquals(want.keySet(), got.keySet());
        for (String key : want.keySet()) {
            assertEquals(want.get(key).f1, got.get(key).f1, key + " position");
            assertArrayEquals(want.get(key).f2, got.get(key).f2, key + ": not bit for bit");
        }
        Map<TopicPartition, OffsetAndMetadata> committed = kafka.admin()
                .listConsumerGroupOffsets("g-cluster").partitionsToOffsetAndMetadata().get();
        assertEquals(700L, committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum(),
                "the stop offsets committed for the streaming job's group: " + committed);

        // What arrives after the backfill is streamed from the savepoint and the committed offsets.
        KafkaJobs.publish(kafka, "chist", events.subList(700, events.size()), tmp.resolve("b.jsonl"));
        JobOptions run = KafkaJobs.kafkaJob(kafka, MODEL, "chist", "chist-out", null, tmp.resolve("chk"));
        run.groupId = "g-cluster";
        run.fromSavepoint = tmp.resolve("cluster").toString();
        run.kafkaUntilEnd = true;
        Jobs.run(run);
        List<String> out = KafkaJobs.values(kafka.consumeUntilQuiet("chist-out", true, Duration.ofSeconds(1),
                Duration.ofSeconds(20)));
        Map<String, Score> scores = Jobs.byKeySeq(out);
        assertEquals(out.size(), scores.size(), "no (key, seq) scored twice");
        assertEquals(events.size() - 700, scores.size(), "exactly the events after the history");
        Map<String, Score> all = Jobs.byKeySeq(Jobs.referenceScores(MODEL,
                java.nio.file.Files.write(tmp.resolve("all.jsonl"), events), tmp));
        double worst = 0;
        for (Map.Entry<String, Score> e : scores.entrySet()) {
            Score w = all.get(e.getKey());
            assertTrue(w != null, "(key, seq) " + e.getKey() + " continues its key");
            worst = Math.max(worst, Math.abs(e.getValue().score() - w.score()) / (1e-4 + 1e-4 * Math.abs(w.score())));
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance against streaming everything");
    }

    /** Each key's position and values in a savepoint of the scoring operator. */
    public static Map<String, Tuple3<String, Long, float[]>> read(Model model, Path savepoint) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        Map<String, Tuple3<String, Long, float[]>> read = new HashMap<>();
        try (CloseableIterator<Tuple3<String, Long, float[]>> it = SavepointReader
                .read(env, savepoint.toUri().toString(), new HashMapStateBackend())
                .readKeyedState(OperatorIdentifier.forUid(ScoringOperator.UID),
                        new Reader(ScoringOperator.stateDescriptor(model)), Types.STRING,
                        TypeInformation.of(new TypeHint<Tuple3<String, Long, float[]>>() {}))
                .executeAndCollect()) {
            it.forEachRemaining(t -> read.put(t.f0, t));
        }
        return read;
    }

    /** Reads the scoring operator's key states. */
    static final class Reader extends KeyedStateReaderFunction<String, Tuple3<String, Long, float[]>> {
        private static final long serialVersionUID = 1L;
        private final ValueStateDescriptor<KeyState> descriptor;
        private transient ValueState<KeyState> state;

        Reader(ValueStateDescriptor<KeyState> descriptor) {
            this.descriptor = descriptor;
        }

        @Override
        public void open(OpenContext ctx) {
            state = getRuntimeContext().getState(descriptor);
        }

        @Override
        public void readKey(String key, Context ctx, Collector<Tuple3<String, Long, float[]>> out) throws Exception {
            KeyState s = state.value();
            out.collect(Tuple3.of(key, s.position(), s.values()));
        }
    }
}
