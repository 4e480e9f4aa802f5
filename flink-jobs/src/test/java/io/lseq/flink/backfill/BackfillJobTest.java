package io.lseq.flink.backfill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.savepoint.SavepointBuilder;
import io.lseq.flink.savepoint.SavepointCheck;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster backfill ({@link BackfillJob}, BATCH execution on a MiniCluster) over a file
 * history whose keys are interleaved, of very different lengths, and mixed with bad lines: the
 * savepoint it writes holds, read back by the State Processor API, exactly the states that the
 * single-machine backfill writes for the same history (bit for bit), and with small windows
 * (keys handed over in many groups, long keys split over windows) states within the format's
 * tolerance of the step path, positions exact. Rejected lines go to the dead-letter output.
 */
class BackfillJobTest {
    static final String CONFIG = TestModels.tokensConfig(
            "[{\"mixer\":{\"type\":\"lru\",\"d_state\":16}},{\"mixer\":{\"type\":\"gru\",\"d_state\":12}}]");
    static final int BAD_LINES = 8;

    @TempDir
    static Path tmp;
    static Path modelDir;
    static Model model;
    static Path history;
    /** The valid events, in history order. */
    static List<Event> events;

    @BeforeAll
    static void history() throws Exception {
        modelDir = TestModels.writeRandom(tmp.resolve("model"), CONFIG, 5);
        model = Model.load(modelDir);
        SplittableRandom rnd = new SplittableRandom(6);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            // A few keys of thousands of events among hundreds of short ones.
            String key = "k" + (rnd.nextInt(10) < 3 ? rnd.nextInt(3) : rnd.nextInt(400));
            lines.add("{\"key\":\"" + key + "\",\"ts\":" + (1000 + i) + ",\"token\":" + rnd.nextInt(32) + "}");
            if (i % 3001 == 17) {
                lines.add(i % 2 == 0 ? "{\"key\":\"k1\",\"token\":99}" : "not json");
            }
        }
        lines.add("{\"token\":3}");
        history = Files.write(tmp.resolve("history.jsonl"), lines);
        EventParser parser = new EventParser(model.config().input());
        events = new ArrayList<>();
        int rejected = 0;
        for (String line : lines) {
            try {
                events.add(parser.parse(line, null));
            } catch (InvalidEventException e) {
                rejected++;
            }
        }
        assertEquals(BAD_LINES, rejected);
    }

    static BackfillJob.Options options(Path savepoint, int parallelism, int window) {
        BackfillJob.Options o = new BackfillJob.Options();
        o.input = new Endpoint(false, null, history.toString());
        o.savepoint = savepoint.toUri().toString();
        o.device = "cpu";
        o.parallelism = parallelism;
        o.window = window;
        o.deadLetter = new Endpoint(false, null, tmp.resolve("dead-" + savepoint.getFileName()).toString());
        return o;
    }

    static BackfillJob.Result runJob(BackfillJob.Options o) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(BackfillJob.configuration(o));
        return BackfillJob.run(env, o, ModelSource.read(modelDir));
    }

    @Test
    void theClusterJobWritesTheStatesOfTheSingleMachineBackfill() throws Exception {
        Path single = tmp.resolve("single");
        Map<String, KeyState> want = new LinkedHashMap<>();
        try (Backfill b = new Backfill(model, new BatchScorer(model, 1), 1 << 18)) {
            for (Event e : events) {
                b.add(e);
            }
            b.finish();
            SavepointBuilder.write(model, b.states(), single.toUri().toString(), 128);
        }
        Path cluster = tmp.resolve("cluster");
        BackfillJob.Result r = runJob(options(cluster, 2, 1 << 18));
        assertEquals(events.size(), r.events());

        Map<String, KeyState> fromSingle = read(single);
        Map<String, KeyState> fromCluster = read(cluster);
        assertEquals(fromSingle.size(), r.keys());
        assertEquals(fromSingle.keySet(), fromCluster.keySet());
        for (Map.Entry<String, KeyState> e : fromSingle.entrySet()) {
            KeyState got = fromCluster.get(e.getKey());
            assertEquals(e.getValue().position(), got.position(), e.getKey());
            assertArrayEquals(e.getValue().values(), got.values(), e.getKey() + ": not bit for bit");
        }
        assertEquals(model.stateSignature(), SavepointCheck.savedSignature(cluster.toString()).orElseThrow());
        assertEquals(BAD_LINES, deadLetters(tmp.resolve("dead-cluster")).size());
    }

    @Test
    void smallWindowsHandKeysOverInGroupsAndEndWhereTheStepPathDoes() throws Exception {
        Map<String, KeyState> step = new HashMap<>();
        Scorer scorer = model.newScorer();
        float[] out = new float[1];
        for (Event e : events) {
            scorer.stepToken(step.computeIfAbsent(e.key(), k -> model.newState()), e.token(), out);
        }
        Path sp = tmp.resolve("small-windows");
        BackfillJob.Result r = runJob(options(sp, 3, 500));
        assertEquals(events.size(), r.events());
        assertEquals(step.size(), r.keys());
        Map<String, KeyState> got = read(sp);
        assertEquals(step.keySet(), got.keySet());
        for (Map.Entry<String, KeyState> e : step.entrySet()) {
            KeyState g = got.get(e.getKey());
            assertEquals(e.getValue().position(), g.position(), e.getKey());
            float[] w = e.getValue().values();
            for (int i = 0; i < w.length; i++) {
                assertTrue(Math.abs(g.values()[i] - w[i]) <= 1e-4 + 1e-4 * Math.abs(w[i]),
                        e.getKey() + " state[" + i + "]: " + g.values()[i] + " vs step " + w[i]);
            }
        }
    }

    @Test
    void kafkaPositionsOrderPartitionsThenOffsets() {
        assertEquals(7L, SourcePosition.kafka("events/0@7"));
        assertEquals((3L << 40) | 12345L, SourcePosition.kafka("my/topic/3@12345"));
        assertTrue(SourcePosition.kafka("t/1@0") > SourcePosition.kafka("t/0@999999999"));
        assertEquals(42L, new SourcePosition(false).extractTimestamp(
                new io.lseq.connectors.RawRecord(new byte[0], 0, null, "/data/a:b.jsonl:42"), 0));
    }

    /** Every key's state in a savepoint of the scoring operator, read by the State Processor API. */
    static Map<String, KeyState> read(Path savepoint) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        Map<String, KeyState> states = new HashMap<>();
        try (CloseableIterator<Tuple2<String, KeyState>> it = SavepointReader
                .read(env, savepoint.toUri().toString(), new HashMapStateBackend())
                .readKeyedState(OperatorIdentifier.forUid(ScoringOperator.UID),
                        new Reader(ScoringOperator.stateDescriptor(model)), Types.STRING,
                        new org.apache.flink.api.java.typeutils.TupleTypeInfo<>(Types.STRING,
                                new KeyStateTypeInfo(model.stateSize(), model.stateSignature())))
                .executeAndCollect()) {
            it.forEachRemaining(t -> states.put(t.f0, t.f1));
        }
        return states;
    }

    static List<String> deadLetters(Path dir) throws Exception {
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(f -> Files.isRegularFile(f) && !f.getFileName().toString().startsWith("."))
                    .toList()) {
                lines.addAll(Files.readAllLines(f, StandardCharsets.UTF_8));
            }
        }
        return lines;
    }

    /** Each key's state as the scoring operator holds it. */
    static final class Reader extends KeyedStateReaderFunction<String, Tuple2<String, KeyState>> {
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
        public void readKey(String key, Context ctx, Collector<Tuple2<String, KeyState>> out) throws Exception {
            out.collect(Tuple2.of(key, state.value()));
        }
    }
}
