package io.lseq.flink.savepoint;

import io.lseq.flink.operator.ScoringOperator;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointWriter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * {@code --reset-state}: a copy of a savepoint without the scoring operator's key states, so a
 * model of another architecture starts every key afresh while the sources keep their positions
 * (Kafka offsets) and nothing is read twice.
 */
public final class ResetState {
    private ResetState() {}

    /**
     * Writes {@code savepoint} minus the scoring operator's state to {@code target}.
     *
     * @return {@code target}
     */
    public static String withoutKeyStates(String savepoint, String target) throws Exception {
        Configuration conf = new Configuration();
        conf.set(CoreOptions.DEFAULT_PARALLELISM, 1);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        SavepointWriter.fromExistingSavepoint(env, savepoint, new HashMapStateBackend())
                .removeOperator(OperatorIdentifier.forUid(ScoringOperator.UID))
                .write(target);
        env.execute("lseq: savepoint without key states");
        return target;
    }
}
