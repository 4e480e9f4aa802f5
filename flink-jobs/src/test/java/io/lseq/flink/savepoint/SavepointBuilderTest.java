package io.lseq.flink.savepoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.state.KeyStateSerializer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
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
import org.apache.flink.util.Collector;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The savepoint {@link SavepointBuilder} assembles in-process is read back by Flink's own
 * State Processor API (an independent reader, on a MiniCluster) with every key's state exact,
 * and a write cut short before its {@code _metadata} is in place is no savepoint.
 */
class SavepointBuilderTest {
    static final Model LRU = TestModels.random(TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]"), 1);

    static Map<String, KeyState> states(int keys) {
        Map<String, KeyState> states = new LinkedHashMap<>();
        Scorer step = LRU.newScorer();
        float[] out = new float[1];
        for (int k = 0; k < keys; k++) {
            KeyState s = LRU.newState();
            for (int t = 0; t <= k % 7; t++) {
                step.stepToken(s, (k + t) % 32, out);
            }
            states.put("key-" + k, s);
        }
        return states;
    }

    @Test
    void theStateProcessorApiReadsEveryKeyBack(@TempDir Path tmp) throws Exception {
        Map<String, KeyState> states = states(300);
        Path dir = tmp.resolve("sp");
        SavepointBuilder.write(LRU, states, dir.toUri().toString(), 128);
        assertTrue(Files.isRegularFile(dir.resolve("_metadata")));
        assertFalse(Files.exists(dir.resolve("_metadata.inprogress")));
        assertEquals(LRU.stateSignature(), SavepointCheck.savedSignature(dir.toString()).orElseThrow());

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        Map<String, Tuple3<String, Long, float[]>> read = new HashMap<>();
        try (CloseableIterator<Tuple3<String, Long, float[]>> it = SavepointReader
                .read(env, dir.toUri().toString(), new HashMapStateBackend())
                .readKeyedState(OperatorIdentifier.forUid(ScoringOperator.UID), new Reader(LRU), Types.STRING,
                        TypeInformation.of(new TypeHint<Tuple3<String, Long, float[]>>() {}))
                .executeAndCollect()) {
            it.forEachRemaining(t -> read.put(t.f0, t));
        }
        assertEquals(states.size(), read.size());
        for (Map.Entry<String, KeyState> e : states.entrySet()) {
            Tuple3<String, Long, float[]> got = read.get(e.getKey());
            assertEquals(e.getValue().position(), got.f1, e.getKey());
            assertArrayEquals(e.getValue().values(), got.f2, e.getKey());
        }
    }

    @Test
    void aWriteCutShortBeforeItsMetadataIsNoSavepoint(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("sp");
        SavepointBuilder.write(LRU, states(20), dir.toString(), 128);
        // What a crash between the state file and the rename leaves: the state, a partial metadata file.
        Path metadata = dir.resolve("_metadata");
        byte[] bytes = Files.readAllBytes(metadata);
        Files.write(dir.resolve("_metadata.inprogress"), java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Files.delete(metadata);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(2, files.count());
        }
        assertThrows(IOException.class, () -> SavepointCheck.savedSignature(dir.toString()));
    }

    /** Each key's position and values, as the scoring operator's state holds them. */
    static final class Reader extends KeyedStateReaderFunction<String, Tuple3<String, Long, float[]>> {
        private static final long serialVersionUID = 1L;
        private final int floats;
        private final String signature;
        private transient ValueState<KeyState> state;

        Reader(Model model) {
            this.floats = model.stateSize();
            this.signature = model.stateSignature();
        }

        @Override
        public void open(OpenContext ctx) {
            state = getRuntimeContext().getState(
                    new ValueStateDescriptor<>(ScoringOperator.STATE_NAME, new KeyStateSerializer(floats, signature)));
        }

        @Override
        public void readKey(String key, Context ctx, Collector<Tuple3<String, Long, float[]>> out) throws Exception {
            KeyState s = state.value();
            out.collect(Tuple3.of(key, s.position(), s.values()));
        }
    }
}
