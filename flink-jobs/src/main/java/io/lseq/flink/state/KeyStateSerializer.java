package io.lseq.flink.state;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import java.io.IOException;
import java.util.Objects;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Writes one key's {@link KeyState} as {@code position (long), floats (int), float * floats}.
 * Fixed length for a given model, so RocksDB values stay one size. The model's
 * {@link Model#stateSignature() state signature} travels in the snapshot, so state written for
 * another architecture is refused on restore instead of being misread
 * ({@link KeyStateSerializerSnapshot}).
 */
public final class KeyStateSerializer extends TypeSerializer<KeyState> {
    private static final long serialVersionUID = 1L;

    private final int floats;
    private final String signature;

    /**
     * @param floats floats in one state
     * @param signature the model's state signature
     */
    public KeyStateSerializer(int floats, String signature) {
        this.floats = floats;
        this.signature = Objects.requireNonNull(signature);
    }

    /** The serializer for states of {@code model}. */
    public static KeyStateSerializer forModel(Model model) {
        return new KeyStateSerializer(model.stateSize(), model.stateSignature());
    }

    int floats() {
        return floats;
    }

    String signature() {
        return signature;
    }

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<KeyState> duplicate() {
        return this; // stateless
    }

    @Override
    public KeyState createInstance() {
        return new KeyState(new float[floats], 0);
    }

    @Override
    public KeyState copy(KeyState from) {
        return from.copy();
    }

    @Override
    public KeyState copy(KeyState from, KeyState reuse) {
        return from.copy();
    }

    @Override
    public int getLength() {
        return 8 + 4 + 4 * floats;
    }

    @Override
    public void serialize(KeyState s, DataOutputView out) throws IOException {
        float[] v = s.values();
        out.writeLong(s.position());
        out.writeInt(v.length);
        for (float f : v) {
            out.writeFloat(f);
        }
    }

    @Override
    public KeyState deserialize(DataInputView in) throws IOException {
        long position = in.readLong();
        int n = in.readInt();
        if (n != floats) {
            throw new IOException("key state holds " + n + " floats, this model's state has " + floats
                    + " (" + signature + ")");
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.readFloat();
        }
        return new KeyState(v, position);
    }

    @Override
    public KeyState deserialize(KeyState reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView in, DataOutputView out) throws IOException {
        out.writeLong(in.readLong());
        int n = in.readInt();
        out.writeInt(n);
        byte[] floatBytes = new byte[4 * n]; // only state migration copies: an allocation is fine
        in.readFully(floatBytes);
        out.write(floatBytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeyStateSerializer k && k.floats == floats && k.signature.equals(signature);
    }

    @Override
    public int hashCode() {
        return 31 * floats + signature.hashCode();
    }

    @Override
    public TypeSerializerSnapshot<KeyState> snapshotConfiguration() {
        return new KeyStateSerializerSnapshot(floats, signature);
    }

    @Override
    public String toString() {
        return "KeyStateSerializer[" + signature + "]";
    }
}
