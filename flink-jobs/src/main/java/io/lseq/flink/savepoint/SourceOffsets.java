package io.lseq.flink.savepoint;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.kafka.KafkaHistory;
import io.lseq.flink.job.ScoringJob;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplitSerializer;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.io.SimpleVersionedSerialization;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.OperatorStateHandle;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.runtime.SavepointLoader;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads, on the client and without a job, where the streaming job's Kafka source stood when a
 * savepoint (or retained checkpoint) was taken: the next offset of every partition its readers
 * held. A backfill that stops there and a job that resumes from there meet exactly: the stop
 * point of {@code lseq upgrade} and of {@code lseq backfill --until-savepoint}.
 *
 * <p>The positions are the source operator's reader state (uid {@link ScoringJob#SOURCE_UID}):
 * operator list state {@value #READER_STATE}, each element a split written by the connector's
 * {@link KafkaPartitionSplitSerializer} with its version, read here from the savepoint's
 * {@code _metadata} and state files.
 */
public final class SourceOffsets {
    /** The name of {@code SourceOperator}'s list state of splits (Flink's {@code SPLITS_STATE_DESC}). */
    static final String READER_STATE = "SourceReaderState";

    private SourceOffsets() {}

    /**
     * Each partition's next offset as the savepoint recorded it. A partition whose reader had not
     * read a record since the job first started holds the connector's marker instead of an
     * offset ({@link KafkaPartitionSplit#EARLIEST_OFFSET}, {@link KafkaPartitionSplit#COMMITTED_OFFSET});
     * {@link #historyStop} resolves those.
     *
     * @throws IOException if the savepoint cannot be read, has no state of the job's source, or
     *     that state is not a Kafka source's
     */
    public static Map<TopicPartition, Long> read(String savepoint) throws IOException {
        CheckpointMetadata metadata = SavepointLoader.loadSavepointMetadata(savepoint);
        OperatorID source = OperatorIdentifier.forUid(ScoringJob.SOURCE_UID).getOperatorId();
        KafkaPartitionSplitSerializer splits = new KafkaPartitionSplitSerializer();
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        boolean found = false;
        for (OperatorState operator : metadata.getOperatorStates()) {
            if (!operator.getOperatorID().equals(source)) {
                continue;
            }
            found = true;
            for (OperatorSubtaskState subtask : operator.getStates()) {
                for (OperatorStateHandle handle : subtask.getManagedOperatorState()) {
                    OperatorStateHandle.StateMetaInfo info = handle.getStateNameToPartitionOffsets().get(READER_STATE);
                    if (info == null) {
                        continue;
                    }
                    try (FSDataInputStream in = handle.openInputStream()) {
                        DataInputViewStreamWrapper view = new DataInputViewStreamWrapper(in);
                        for (long at : info.getOffsets()) {
                            in.seek(at);
                            byte[] bytes = BytePrimitiveArraySerializer.INSTANCE.deserialize(view);
                            KafkaPartitionSplit split = split(savepoint, splits, bytes);
                            offsets.put(split.getTopicPartition(), split.getStartingOffset());
                        }
                    }
                }
            }
        }
        if (!found) {
            throw new IOException("savepoint " + savepoint + " holds no state of the streaming job's source (uid "
                    + ScoringJob.SOURCE_UID + "): not a savepoint of lseq run (a backfill's savepoint has no positions)");
        }
        return offsets;
    }

    private static KafkaPartitionSplit split(String savepoint, KafkaPartitionSplitSerializer splits, byte[] bytes)
            throws IOException {
        try {
            return SimpleVersionedSerialization.readVersionAndDeSerialize(splits, bytes);
        } catch (IOException | RuntimeException e) {
            // A file source's splits have another layout: say so rather than show a decoding error.
            throw new IOException("savepoint " + savepoint + ": the source's state is not a Kafka source's ("
                    + e.getMessage() + "); a stop at a savepoint's positions needs a job that read Kafka", e);
        }
    }

    /**
     * Where a history of {@code topic} stops so that it ends where the savepoint's job stood:
     * {@link #read} resolved against the topic ({@link KafkaHistory#stopOffsetsAt}).
     *
     * @param jobGroup the consumer group the savepoint's job read with: a partition it had not
     *     read yet would have started at that group's committed offset
     */
    public static Map<TopicPartition, Long> historyStop(String savepoint, Endpoint topic, Properties kafka,
            String jobGroup) throws IOException {
        return KafkaHistory.stopOffsetsAt(topic, kafka, read(savepoint), jobGroup);
    }
}
