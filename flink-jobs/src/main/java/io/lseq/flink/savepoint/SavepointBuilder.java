package io.lseq.flink.savepoint;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.state.KeyStateSerializer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.OperatorTransformation;
import org.apache.flink.state.api.SavepointWriter;
import org.apache.flink.state.api.StateBootstrapTransformation;
import org.apache.flink.state.api.functions.KeyedStateBootstrapFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Writes key states as a savepoint of the streaming job's scoring operator (State Processor
 * API): same uid ({@value ScoringOperator#UID}), state name, {@link KeyStateSerializer} and key
 * type, so {@code lseq run --from-savepoint} continues every key where the backfill left it.
 */
public final class SavepointBuilder {
    private SavepointBuilder() {}

    /** One key's state as the bootstrap job carries it. */
    public record KeyedValues(String key, long position, float[] values) {}

    /**
     * Writes {@code states} to the savepoint directory {@code path} (a URI or local path).
     *
     * @param maxParallelism the streaming job's max parallelism (it must restore with the same)
     */
    public static void write(Model model, Map<String, KeyState> states, String path, int maxParallelism) throws Exception {
        Configuration conf = new Configuration();
        conf.set(CoreOptions.DEFAULT_PARALLELISM, 1);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        List<KeyedValues> rows = new ArrayList<>(states.size());
        states.forEach((k, s) -> rows.add(new KeyedValues(k, s.position(), s.values())));
        StateBootstrapTransformation<KeyedValues> t = OperatorTransformation
                .bootstrapWith(env.fromData(rows))
                .keyBy(new ByKey(), Types.STRING)
                .transform(new StateWriter(model.stateSize(), model.stateSignature()));
        SavepointWriter.newSavepoint(env, new HashMapStateBackend(), maxParallelism)
                .withOperator(OperatorIdentifier.forUid(ScoringOperator.UID), t)
                .write(path);
        env.execute("lseq backfill: write savepoint");
    }

    /** The key of a row. */
    static final class ByKey implements KeySelector<KeyedValues, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getKey(KeyedValues v) {
            return v.key();
        }
    }

    /** Puts each row into the scoring operator's keyed state. */
    static final class StateWriter extends KeyedStateBootstrapFunction<String, KeyedValues> {
        private static final long serialVersionUID = 1L;
        private final int floats;
        private final String signature;
        private transient ValueState<KeyState> state;

        StateWriter(int floats, String signature) {
            this.floats = floats;
            this.signature = signature;
        }

        @Override
        public void open(OpenContext ctx) {
            state = getRuntimeContext().getState(
                    new ValueStateDescriptor<>(ScoringOperator.STATE_NAME, new KeyStateSerializer(floats, signature)));
        }

        @Override
        public void processElement(KeyedValues v, Context ctx) throws Exception {
            state.update(new KeyState(v.values(), v.position()));
        }
    }
}
