package io.lseq.flink.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.testing.TestModels;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

class KeyStateSerializerTest {
    static final Model LRU = TestModels.random(TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]"), 1);
    static final Model LRU_RETRAINED =
            TestModels.random(TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}}]"), 2);
    static final Model GRU = TestModels.random(TestModels.tokensConfig("[{\"mixer\":{\"type\":\"gru\",\"d_state\":12}}]"), 1);

    @Test
    void roundTripsAndCopiesRawBytes() throws Exception {
        KeyStateSerializer ser = KeyStateSerializer.forModel(LRU);
        KeyState st = LRU.newState();
        Scorer s = LRU.newScorer();
        float[] out = new float[1];
        for (int i = 0; i < 100; i++) {
            s.stepToken(st, i % 32, out);
        }
        DataOutputSerializer o = new DataOutputSerializer(64);
        ser.serialize(st, o);
        assertEquals(ser.getLength(), o.length(), "fixed length");
        KeyState back = ser.deserialize(new DataInputDeserializer(o.getCopyOfBuffer()));
        assertEquals(st.position(), back.position());
        assertArrayEquals(st.values(), back.values());
        DataOutputSerializer o2 = new DataOutputSerializer(64);
        ser.copy(new DataInputDeserializer(o.getCopyOfBuffer()), o2);
        assertArrayEquals(o.getCopyOfBuffer(), o2.getCopyOfBuffer());
    }

    private static TypeSerializerSnapshot<KeyState> writtenAndRead(Model m) throws Exception {
        DataOutputSerializer o = new DataOutputSerializer(64);
        TypeSerializerSnapshot.writeVersionedSnapshot(o, KeyStateSerializer.forModel(m).snapshotConfiguration());
        return TypeSerializerSnapshot.readVersionedSnapshot(new DataInputDeserializer(o.getCopyOfBuffer()),
                KeyStateSerializerTest.class.getClassLoader());
    }

    @Test
    void sameArchitectureIsCompatibleAsIs() throws Exception {
        TypeSerializerSnapshot<KeyState> old = writtenAndRead(LRU);
        TypeSerializerSchemaCompatibility<KeyState> c =
                KeyStateSerializer.forModel(LRU_RETRAINED).snapshotConfiguration().resolveSchemaCompatibility(old);
        assertTrue(c.isCompatibleAsIs());
        assertEquals(KeyStateSerializer.forModel(LRU), old.restoreSerializer());
    }

    @Test
    void otherArchitectureIsRefusedNamingBoth() throws Exception {
        TypeSerializerSnapshot<KeyState> old = writtenAndRead(LRU);
        StateMismatchException e = assertThrows(StateMismatchException.class,
                () -> KeyStateSerializer.forModel(GRU).snapshotConfiguration().resolveSchemaCompatibility(old));
        assertTrue(e.getMessage().contains("Lru[dState=8]") && e.getMessage().contains("Gru[dState=12]"), e.getMessage());
        assertTrue(e.getMessage().contains("--reset-state"), e.getMessage());
    }

    @Test
    void wrongSizedStateIsAnErrorNotGarbage() throws Exception {
        DataOutputSerializer o = new DataOutputSerializer(64);
        KeyStateSerializer.forModel(GRU).serialize(GRU.newState(), o);
        Exception e = assertThrows(java.io.IOException.class,
                () -> KeyStateSerializer.forModel(LRU).deserialize(new DataInputDeserializer(o.getCopyOfBuffer())));
        assertTrue(e.getMessage().contains("floats"), e.getMessage());
    }
}
