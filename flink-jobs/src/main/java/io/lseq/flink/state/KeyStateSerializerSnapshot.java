package io.lseq.flink.state;

import io.lseq.core.model.KeyState;
import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * What a checkpoint records about the key states it holds: the model's state signature and the
 * number of floats. Restoring into a job whose model has the same signature is compatible as is
 * (a retrained model of the same architecture carries the states over); anything else fails with
 * {@link StateMismatchException}, naming both architectures.
 *
 * <p>Version 1 layout: {@code int floats, UTF signature}. Future versions must keep reading it.
 */
public final class KeyStateSerializerSnapshot implements TypeSerializerSnapshot<KeyState> {
    private static final int VERSION = 1;

    private int floats;
    private String signature;

    /** For Flink's reflective instantiation on restore. */
    public KeyStateSerializerSnapshot() {}

    KeyStateSerializerSnapshot(int floats, String signature) {
        this.floats = floats;
        this.signature = signature;
    }

    /** The state signature of the model that wrote the states (see {@code Model#stateSignature}). */
    public String signature() {
        return signature;
    }

    /** Floats per key state. */
    public int floats() {
        return floats;
    }

    @Override
    public int getCurrentVersion() {
        return VERSION;
    }

    @Override
    public void writeSnapshot(DataOutputView out) throws IOException {
        out.writeInt(floats);
        out.writeUTF(signature);
    }

    @Override
    public void readSnapshot(int readVersion, DataInputView in, ClassLoader cl) throws IOException {
        if (readVersion != VERSION) {
            throw new IOException("key state snapshot version " + readVersion + " is newer than this lseq ("
                    + VERSION + ")");
        }
        floats = in.readInt();
        signature = in.readUTF();
    }

    @Override
    public TypeSerializer<KeyState> restoreSerializer() {
        return new KeyStateSerializer(floats, signature);
    }

    @Override
    public TypeSerializerSchemaCompatibility<KeyState> resolveSchemaCompatibility(
            TypeSerializerSnapshot<KeyState> oldSnapshot) {
        if (!(oldSnapshot instanceof KeyStateSerializerSnapshot old)) {
            return TypeSerializerSchemaCompatibility.incompatible();
        }
        if (old.floats == floats && old.signature.equals(signature)) {
            return TypeSerializerSchemaCompatibility.compatibleAsIs();
        }
        throw new StateMismatchException(old.signature, signature);
    }
}
