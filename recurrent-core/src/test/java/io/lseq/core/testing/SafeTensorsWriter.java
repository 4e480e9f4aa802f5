package io.lseq.core.testing;

import io.lseq.core.format.DType;
import io.lseq.core.format.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/** Writes tensors as F32 safetensors, and raw headers for tests of the reader's checks. */
public final class SafeTensorsWriter {
    private SafeTensorsWriter() {}

    /** Writes {@code tensors} as a valid F32 safetensors file. */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Tensor t : tensors.values()) {
            int begin = data.size();
            ByteBuffer b = ByteBuffer.allocate(4 * t.data().length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.data()) {
                b.putFloat(v);
            }
            data.write(b.array());
            header.append(",\"").append(t.name()).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(Arrays.toString(t.shape())).append(",\"data_offsets\":[").append(begin).append(',')
                    .append(data.size()).append("]}");
        }
        header.append('}');
        writeRaw(file, header.toString(), data.toByteArray());
    }

    /** Writes any header text and data bytes, valid or not. */
    public static void writeRaw(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(file, b.array());
    }

    /** Encodes one value of {@code dtype}, little-endian (round to nearest even for the 16-bit types). */
    public static byte[] encode(DType dtype, float v) {
        int bits = Float.floatToIntBits(v);
        switch (dtype) {
            case F32:
                return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
            case BF16: {
                int rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
                return new byte[] {(byte) rounded, (byte) (rounded >>> 8)};
            }
            default:
                throw new IllegalArgumentException("write F16 test values as bit patterns");
        }
    }
}
