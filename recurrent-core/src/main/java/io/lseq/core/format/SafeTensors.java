package io.lseq.core.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file: an 8-byte little-endian header length, a JSON header, then the raw
 * little-endian bytes. Every check the format asks for is made before any tensor is decoded:
 * header size, dtypes, shapes against byte ranges, ranges inside the file, no two ranges
 * overlapping.
 */
public final class SafeTensors {
    /** Largest header accepted, as in the reference safetensors implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /**
     * Reads every tensor of {@code file}, in header order.
     *
     * @throws ModelFormatException naming the file and tensor when the file is not valid
     */
    public static Map<String, Tensor> read(Path file) {
        String name = file.toString();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(ch, name);
        } catch (IOException ex) {
            throw new ModelFormatException(name, "cannot read: " + ex.getMessage(), ex);
        }
    }

    /**
     * Reads every tensor of a safetensors file held in memory.
     *
     * @param name the file's name, for messages
     */
    public static Map<String, Tensor> read(byte[] bytes, String name) {
        try {
            return read(new ByteArrayChannel(bytes), name);
        } catch (IOException ex) {
            throw new AssertionError("in-memory read cannot fail", ex);
        }
    }

    private static Map<String, Tensor> read(SeekableByteChannel ch, String name) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new ModelFormatException(name, "file is " + size + " bytes, too short for a safetensors header");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) {
            throw new ModelFormatException(name, "header length " + Long.toUnsignedString(headerLen)
                    + " is outside (0, " + MAX_HEADER_BYTES + "] bytes");
        }
        if (8 + headerLen > size) {
            throw new ModelFormatException(name, "header length " + headerLen + " runs past the end of the "
                    + size + "-byte file");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(ch, headerBuf, 8);
        List<Entry> entries = parseHeader(name, headerBuf.array(), size - 8 - headerLen);

        Map<String, Tensor> out = new LinkedHashMap<>();
        long dataStart = 8 + headerLen;
        for (Entry e : entries) {
            ByteBuffer raw = ByteBuffer.allocate((int) (e.end - e.begin));
            readFully(ch, raw, dataStart + e.begin);
            byte[] b = raw.array();
            float[] data = new float[(int) e.numel];
            int step = e.dtype.bytes();
            for (int i = 0, off = 0; i < data.length; i++, off += step) {
                float v = e.dtype.decode(b, off);
                if (!Float.isFinite(v)) {
                    throw new ModelFormatException(name, "tensor " + e.name + " holds " + v + " at flat index " + i
                            + "; weights must be finite");
                }
                data[i] = v;
            }
            out.put(e.name, new Tensor(e.name, e.dtype, e.shape, data));
        }
        return out;
    }

    private record Entry(String name, DType dtype, int[] shape, long numel, long begin, long end) {}

    private static List<Entry> parseHeader(String file, byte[] header, long dataLen) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException ex) {
            throw new ModelFormatException(file, "header is not valid JSON: " + ex.getOriginalMessage(), ex);
        } catch (IOException ex) {
            throw new ModelFormatException(file, "header cannot be read: " + ex.getMessage(), ex);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file, "header must be a JSON object");
        }
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                continue;
            }
            entries.add(parseEntry(file, f.getKey(), f.getValue(), dataLen));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1);
            Entry cur = byOffset.get(i);
            if (cur.begin < prev.end) {
                throw new ModelFormatException(file, "tensor " + cur.name + " bytes [" + cur.begin + ", " + cur.end
                        + ") overlap tensor " + prev.name + " bytes [" + prev.begin + ", " + prev.end + ")");
            }
        }
        return entries;
    }

    private static Entry parseEntry(String file, String name, JsonNode node, long dataLen) {
        String where = "tensor " + name;
        if (!node.isObject()) {
            throw new ModelFormatException(file, where + ": header entry must be an object");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new ModelFormatException(file, where + ": missing string field dtype");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dt.asText());
        } catch (IllegalArgumentException ex) {
            throw new ModelFormatException(file, where + ": dtype " + dt.asText()
                    + " is not supported (F32, F16 or BF16)");
        }
        JsonNode sh = node.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new ModelFormatException(file, where + ": missing array field shape");
        }
        int[] shape = new int[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw new ModelFormatException(file, where + ": shape " + sh + " must hold non-negative integers");
            }
            shape[i] = d.asInt();
            numel *= shape[i];
            if (numel > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, where + ": shape " + sh + " is too large for one tensor");
            }
        }
        JsonNode offs = node.get("data_offsets");
        if (offs == null || !offs.isArray() || offs.size() != 2 || !offs.get(0).isIntegralNumber()
                || !offs.get(1).isIntegralNumber()) {
            throw new ModelFormatException(file, where + ": data_offsets must be [begin, end]");
        }
        long begin = offs.get(0).asLong();
        long end = offs.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw new ModelFormatException(file, where + ": data_offsets [" + begin + ", " + end
                    + "] are out of range of the " + dataLen + "-byte data section");
        }
        if (end - begin != numel * dtype.bytes()) {
            throw new ModelFormatException(file, where + ": data_offsets [" + begin + ", " + end + "] hold "
                    + (end - begin) + " bytes but shape " + sh + " of " + dtype + " needs " + numel * dtype.bytes());
        }
        return new Entry(name, dtype, shape, numel, begin, end);
    }

    private static void readFully(SeekableByteChannel ch, ByteBuffer buf, long pos) throws IOException {
        ch.position(pos);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new IOException("unexpected end of file at byte " + (pos + buf.position()));
            }
        }
    }

    /** A read-only channel over a byte array. */
    private static final class ByteArrayChannel implements SeekableByteChannel {
        private final byte[] bytes;
        private int pos;

        ByteArrayChannel(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (pos >= bytes.length) {
                return -1;
            }
            int n = Math.min(dst.remaining(), bytes.length - pos);
            dst.put(bytes, pos, n);
            pos += n;
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public long position() {
            return pos;
        }

        @Override
        public SeekableByteChannel position(long p) {
            pos = (int) Math.min(p, bytes.length);
            return this;
        }

        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public SeekableByteChannel truncate(long size) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }
}
