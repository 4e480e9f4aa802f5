package io.lseq.flink.savepoint;

import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.state.KeyStateSerializerSnapshot;
import io.lseq.flink.state.StateMismatchException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.runtime.SavepointLoader;

/**
 * Reads, on the client, which model architecture a savepoint's key states belong to, so that
 * {@code lseq run --from-savepoint} refuses a mismatch before submitting. Otherwise the mismatch
 * only surfaces when a task restores, and a cluster's restart strategy retries it forever.
 *
 * <p>Only the state's metadata is read: the header every keyed snapshot starts with (canonical
 * savepoints and full checkpoints of both backends; the meta file of incremental RocksDB
 * checkpoints), which holds the serializer snapshot with the signature.
 */
public final class SavepointCheck {
    private SavepointCheck() {}

    /**
     * The state signature recorded with the scoring operator's key states, if the savepoint has
     * any (a savepoint of a job that had not seen a key yet, or one written by
     * {@code --reset-state}, has none).
     *
     * @throws IOException if the savepoint cannot be read
     */
    public static Optional<String> savedSignature(String savepoint) throws IOException {
        CheckpointMetadata metadata = SavepointLoader.loadSavepointMetadata(savepoint);
        OperatorID scoring = OperatorIdentifier.forUid(ScoringOperator.UID).getOperatorId();
        for (OperatorState operator : metadata.getOperatorStates()) {
            if (!operator.getOperatorID().equals(scoring)) {
                continue;
            }
            for (OperatorSubtaskState subtask : operator.getStates()) {
                for (KeyedStateHandle handle : subtask.getManagedKeyedState()) {
                    Optional<String> signature = signatureIn(handle);
                    if (signature.isPresent()) {
                        return signature;
                    }
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Throws {@link StateMismatchException} when the savepoint holds key states of a model whose
     * signature differs from {@code current}.
     */
    public static void requireCompatible(String savepoint, String current) throws IOException {
        Optional<String> saved = savedSignature(savepoint);
        if (saved.isPresent() && !saved.get().equals(current)) {
            throw new StateMismatchException(saved.get(), current);
        }
    }

    private static Optional<String> signatureIn(KeyedStateHandle handle) throws IOException {
        return valueSerializer(handle, ScoringOperator.STATE_NAME)
                .filter(KeyStateSerializerSnapshot.class::isInstance)
                .map(snapshot -> ((KeyStateSerializerSnapshot) snapshot).signature());
    }

    /**
     * The value serializer's snapshot recorded for the state {@code stateName} in a keyed
     * snapshot's header (canonical savepoints and full checkpoints of both backends; the meta file
     * of incremental RocksDB checkpoints), without reading the state itself. Empty when the state
     * is not there, or the handle is of a layout this does not know (the restore still checks).
     */
    public static Optional<TypeSerializerSnapshot<?>> valueSerializer(KeyedStateHandle handle, String stateName)
            throws IOException {
        StreamStateHandle meta;
        if (handle instanceof KeyGroupsStateHandle full) {
            meta = full;
        } else if (handle instanceof IncrementalKeyedStateHandle incremental) {
            meta = incremental.getMetaDataStateHandle();
        } else {
            return Optional.empty();
        }
        KeyedBackendSerializationProxy<?> proxy = new KeyedBackendSerializationProxy<>(SavepointCheck.class.getClassLoader());
        try (InputStream in = meta.openInputStream()) {
            proxy.read(new DataInputViewStreamWrapper(in));
        }
        for (StateMetaInfoSnapshot state : proxy.getStateMetaInfoSnapshots()) {
            if (state.getName().equals(stateName)) {
                return Optional.ofNullable(
                        state.getTypeSerializerSnapshot(StateMetaInfoSnapshot.CommonSerializerKeys.VALUE_SERIALIZER));
            }
        }
        return Optional.empty();
    }
}
