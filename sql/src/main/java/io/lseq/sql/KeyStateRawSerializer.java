package io.lseq.sql;

import io.lseq.core.model.KeyState;
import io.lseq.flink.state.KeyStateSerializer;
import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * The serializer of {@code LSEQ_SCORE}'s RAW state value: the DataStream job's
 * {@link KeyStateSerializer} (same bytes, same {@code KeyStateSerializerSnapshot} in checkpoints),
 * except that any two instances are equal.
 *
 * <p>Why: a RAW type is equal to another only when their serializers are, and Flink's
 * {@code RowDataSerializer} compares its field types before it asks the nested serializer
 * snapshots. With {@link KeyStateSerializer}'s own equality (floats and signature), a savepoint of
 * another architecture would fail as a bare "incompatible" serializer; with this one, the check
 * reaches {@code KeyStateSerializerSnapshot}, which refuses it with the DataStream job's
 * {@code StateMismatchException} and accepts a retrained model of the same architecture. A job
 * holds states of one model only, so equality by kind loses nothing.
 */
public final class KeyStateRawSerializer extends TypeSerializer<KeyState> {
    private static final long serialVersionUID = 1L;

    private final KeyStateSerializer delegate;

    /** @param delegate the serializer of this model's states */
    public KeyStateRawSerializer(KeyStateSerializer delegate) {
        this.delegate = delegate;
    }

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<KeyState> duplicate() {
        return this;
    }

    @Override
    public KeyState createInstance() {
        return delegate.createInstance();
    }

    @Override
    public KeyState copy(KeyState from) {
        return delegate.copy(from);
    }

    @Override
    public KeyState copy(KeyState from, KeyState reuse) {
        return delegate.copy(from, reuse);
    }

    @Override
    public int getLength() {
        return delegate.getLength();
    }

    @Override
    public void serialize(KeyState record, DataOutputView target) throws IOException {
        delegate.serialize(record, target);
    }

    @Override
    public KeyState deserialize(DataInputView source) throws IOException {
        return delegate.deserialize(source);
    }

    @Override
    public KeyState deserialize(KeyState reuse, DataInputView source) throws IOException {
        return delegate.deserialize(reuse, source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        delegate.copy(source, target);
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof KeyStateRawSerializer;
    }

    @Override
    public int hashCode() {
        return KeyStateRawSerializer.class.getName().hashCode();
    }

    /** The DataStream job's snapshot: the state signature travels in it, and restores are checked by it. */
    @Override
    public TypeSerializerSnapshot<KeyState> snapshotConfiguration() {
        return delegate.snapshotConfiguration();
    }

    @Override
    public String toString() {
        return "KeyStateRawSerializer[" + delegate + "]";
    }
}
