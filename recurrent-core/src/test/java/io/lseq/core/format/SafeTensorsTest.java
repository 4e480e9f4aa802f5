package io.lseq.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.testing.SafeTensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve("model.safetensors");
    }

    private String reject(String header, byte[] data) throws IOException {
        SafeTensorsWriter.writeRaw(file(), header, data);
        return assertThrows(ModelFormatException.class, () -> SafeTensors.read(file())).getMessage();
    }

    @Test
    void readsF32F16AndBf16() throws IOException {
        // F32 1.5, -2; F16 1.0 (0x3c00), -0.5 (0xb800), 65504 (0x7bff), smallest subnormal (0x0001);
        // BF16 1.0 (0x3f80), -3.0 (0xc040).
        ByteBuffer b = ByteBuffer.allocate(8 + 8 + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putFloat(1.5f).putFloat(-2f);
        b.putShort((short) 0x3c00).putShort((short) 0xb800).putShort((short) 0x7bff).putShort((short) 0x0001);
        b.putShort((short) 0x3f80).putShort((short) 0xc040);
        SafeTensorsWriter.writeRaw(file(), "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[8,16]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},\"__metadata__\":{\"x\":\"y\"}}",
                b.array());
        Map<String, Tensor> t = SafeTensors.read(file());
        assertArrayEquals(new float[] {1.5f, -2f}, t.get("a").data());
        assertArrayEquals(new float[] {1f, -0.5f, 65504f, 0x1p-24f}, t.get("b").data());
        assertArrayEquals(new int[] {2, 2}, t.get("b").shape());
        assertArrayEquals(new float[] {1f, -3f}, t.get("c").data());
        assertEquals(DType.BF16, t.get("c").dtype());
    }

    @Test
    void f16DecodesEveryPatternLikeTheIeeeDefinition() {
        for (int h = 0; h < 0x10000; h++) {
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            double sign = (h & 0x8000) != 0 ? -1 : 1;
            float got = DType.halfToFloat(h);
            if (exp == 0x1f) {
                assertTrue(mant == 0 ? Float.isInfinite(got) : Float.isNaN(got), "pattern " + h);
                continue;
            }
            double want = exp == 0 ? sign * mant * Math.pow(2, -24) : sign * (1 + mant / 1024.0) * Math.pow(2, exp - 15);
            assertEquals(want, got, 0.0, "pattern " + Integer.toHexString(h));
        }
    }

    @Test
    void rejectsUnsupportedDtypeNamingTheTensor() throws IOException {
        String msg = reject("{\"blocks.0.x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]);
        assertTrue(msg.contains("blocks.0.x") && msg.contains("I64") && msg.contains("model.safetensors"), msg);
    }

    @Test
    void rejectsOverlappingOffsets() throws IOException {
        String msg = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        assertTrue(msg.contains("overlap") && msg.contains("b") && msg.contains("a"), msg);
    }

    @Test
    void rejectsOffsetsOutOfRange() throws IOException {
        String msg = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]);
        assertTrue(msg.contains("tensor a") && msg.contains("out of range"), msg);
    }

    @Test
    void rejectsByteCountThatDisagreesWithShape() throws IOException {
        String msg = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertTrue(msg.contains("tensor a") && msg.contains("needs 12"), msg);
    }

    @Test
    void rejectsNegativeShape() throws IOException {
        String msg = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", new byte[0]);
        assertTrue(msg.contains("tensor a") && msg.contains("shape"), msg);
    }

    @Test
    void rejectsHeaderOver100MB() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(100_000_001L).putLong(0);
        Files.write(file(), b.array());
        String msg = assertThrows(ModelFormatException.class, () -> SafeTensors.read(file())).getMessage();
        assertTrue(msg.contains("header length"), msg);
    }

    @Test
    void rejectsHeaderLongerThanFile() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(1000).putLong(0);
        Files.write(file(), b.array());
        String msg = assertThrows(ModelFormatException.class, () -> SafeTensors.read(file())).getMessage();
        assertTrue(msg.contains("past the end"), msg);
    }

    @Test
    void rejectsTruncatedFileAndBadJson() throws IOException {
        Files.write(file(), new byte[3]);
        assertTrue(assertThrows(ModelFormatException.class, () -> SafeTensors.read(file())).getMessage()
                .contains("too short"));
        assertTrue(reject("{not json", new byte[0]).contains("not valid JSON"));
        assertTrue(reject("[1,2]", new byte[0]).contains("JSON object"));
    }

    @Test
    void rejectsNonFiniteWeights() throws IOException {
        byte[] d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(Float.NaN).array();
        String msg = reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d);
        assertTrue(msg.contains("tensor w") && msg.contains("NaN") && msg.contains("index 1"), msg);
    }
}
