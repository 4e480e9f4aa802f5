package io.lseq.flink.backfill;

import io.lseq.core.model.KeyState;
import io.lseq.flink.state.KeyStateSerializer;
import java.util.Objects;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/**
 * Key states as a Flink type, serialized by {@link KeyStateSerializer} (the streaming job's own):
 * the computed states travel from the backfill operator to the savepoint writer exactly, without
 * Kryo.
 */
final class KeyStateTypeInfo extends TypeInformation<KeyState> {
    private static final long serialVersionUID = 1L;

    private final int floats;
    private final String signature;

    /** For states of {@code floats} values of a model with this state signature. */
    KeyStateTypeInfo(int floats, String signature) {
        this.floats = floats;
        this.signature = signature;
    }

    @Override
    public boolean isBasicType() {
        return false;
    }

    @Override
    public boolean isTupleType() {
        return false;
    }

    @Override
    public int getArity() {
        return 1;
    }

    @Override
    public int getTotalFields() {
        return 1;
    }

    @Override
    public Class<KeyState> getTypeClass() {
        return KeyState.class;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<KeyState> createSerializer(SerializerConfig config) {
        return new KeyStateSerializer(floats, signature);
    }

    @Override
    public String toString() {
        return "KeyState(" + floats + " floats, " + signature + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeyStateTypeInfo t && t.floats == floats && t.signature.equals(signature);
    }

    @Override
    public int hashCode() {
        return Objects.hash(floats, signature);
    }

    @Override
    public boolean canEqual(Object o) {
        return o instanceof KeyStateTypeInfo;
    }
}
