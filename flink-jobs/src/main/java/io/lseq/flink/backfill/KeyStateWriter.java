package io.lseq.flink.backfill;

import io.lseq.core.model.KeyState;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.state.KeyStateSerializer;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.state.api.functions.KeyedStateBootstrapFunction;

/**
 * Writes each computed state into the scoring operator's keyed state: the same state name,
 * {@link KeyStateSerializer} and String key as {@link ScoringOperator}, so the savepoint restores
 * into the streaming job.
 */
final class KeyStateWriter extends KeyedStateBootstrapFunction<String, Tuple2<String, KeyState>> {
    private static final long serialVersionUID = 1L;

    private final ValueStateDescriptor<KeyState> descriptor;
    private transient ValueState<KeyState> state;

    /** @param descriptor {@link ScoringOperator#stateDescriptor} of the model */
    KeyStateWriter(ValueStateDescriptor<KeyState> descriptor) {
        this.descriptor = descriptor;
    }

    @Override
    public void open(OpenContext ctx) {
        state = getRuntimeContext().getState(descriptor);
    }

    @Override
    public void processElement(Tuple2<String, KeyState> keyState, Context ctx) throws Exception {
        state.update(keyState.f1);
    }
}
