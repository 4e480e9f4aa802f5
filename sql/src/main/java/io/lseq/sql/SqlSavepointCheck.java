package io.lseq.sql;

import io.lseq.core.model.Model;
import io.lseq.flink.savepoint.SavepointCheck;
import io.lseq.flink.state.StateMismatchException;
import java.io.IOException;
import java.util.Collection;
import org.apache.flink.api.common.typeutils.CompositeTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.state.api.runtime.SavepointLoader;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.runtime.typeutils.InternalSerializers;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.logical.RowType;

/**
 * Checks on the client that a savepoint's {@code LSEQ_SCORE} states can be read by the models a
 * script plans, so that {@code lseq sql} refuses another architecture before it submits, with
 * the DataStream job's {@link StateMismatchException}, instead of a task that fails on restore
 * (the counterpart of {@code SavepointCheck} for {@code lseq run}).
 *
 * <p>It asks the same question the restore asks: the new state serializer's snapshot resolves its
 * compatibility with the saved one, and {@code KeyStateSerializerSnapshot} inside it answers. Only
 * the state's metadata is read (the header of each keyed snapshot).
 */
public final class SqlSavepointCheck {
    private SqlSavepointCheck() {}

    /**
     * Throws {@link StateMismatchException} when the savepoint holds {@code LSEQ_SCORE} states that
     * none of {@code models} can read. A savepoint without such states passes.
     */
    public static void requireCompatible(String savepoint, Collection<Model> models) throws IOException {
        if (models.isEmpty()) {
            return;
        }
        CheckpointMetadata metadata = SavepointLoader.loadSavepointMetadata(savepoint);
        for (OperatorState operator : metadata.getOperatorStates()) {
            for (OperatorSubtaskState subtask : operator.getStates()) {
                for (KeyedStateHandle handle : subtask.getManagedKeyedState()) {
                    TypeSerializerSnapshot<RowData> saved = savedState(handle);
                    if (saved != null) {
                        check(saved, models);
                        break; // every subtask of an operator wrote the same serializer
                    }
                }
            }
        }
    }

    /**
     * The models {@code LSEQ_SCORE} calls score with in what {@code planning} plans in this thread
     * (e.g. {@code () -> tableEnv.explainSql(statement)}): what a statement's savepoint must fit.
     */
    public static Collection<Model> modelsPlannedBy(Runnable planning) {
        java.util.Set<Model> models = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        ModelLocation.RECORDING.set(models);
        try {
            planning.run();
        } finally {
            ModelLocation.RECORDING.remove();
        }
        return models;
    }

    private static void check(TypeSerializerSnapshot<RowData> saved, Collection<Model> models) {
        StateMismatchException first = null;
        for (Model m : models) {
            RowDataSerializer current = (RowDataSerializer) InternalSerializers.create(
                    (RowType) LseqScore.stateType(m).getLogicalType());
            try {
                TypeSerializerSchemaCompatibility<RowData> c = current.snapshotConfiguration().resolveSchemaCompatibility(saved);
                if (!c.isIncompatible()) {
                    return;
                }
            } catch (StateMismatchException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The value serializer snapshot of the LSEQ_SCORE state in this keyed snapshot, or null. */
    @SuppressWarnings("unchecked")
    private static TypeSerializerSnapshot<RowData> savedState(KeyedStateHandle handle) throws IOException {
        return (TypeSerializerSnapshot<RowData>) SavepointCheck.valueSerializer(handle, LseqScore.STATE)
                .map(SqlSavepointCheck::rowSnapshot).orElse(null);
    }

    /** The row serializer's snapshot, itself or inside a wrapper such as the TTL serializer's. */
    private static TypeSerializerSnapshot<?> rowSnapshot(TypeSerializerSnapshot<?> s) {
        if (s instanceof RowDataSerializer.RowDataSerializerSnapshot) {
            return s;
        }
        if (s instanceof CompositeTypeSerializerSnapshot<?, ?> composite) {
            for (TypeSerializerSnapshot<?> nested : composite.getNestedSerializerSnapshots()) {
                TypeSerializerSnapshot<?> row = rowSnapshot(nested);
                if (row != null) {
                    return row;
                }
            }
        }
        return null;
    }
}
