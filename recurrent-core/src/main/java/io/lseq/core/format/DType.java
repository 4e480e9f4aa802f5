package io.lseq.core.format;

/** The tensor element types a model may be stored in; all are computed in float32. */
public enum DType {
    F32(4),
    F16(2),
    BF16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Decodes one element starting at {@code b[off]} (little-endian) to float32. */
    float decode(byte[] b, int off) {
        switch (this) {
            case F32:
                return Float.intBitsToFloat((b[off] & 0xff) | (b[off + 1] & 0xff) << 8
                        | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24);
            case F16:
                return halfToFloat((b[off] & 0xff) | (b[off + 1] & 0xff) << 8);
            case BF16:
                return Float.intBitsToFloat(((b[off] & 0xff) | (b[off + 1] & 0xff) << 8) << 16);
            default:
                throw new AssertionError(this);
        }
    }

    /** IEEE 754 binary16 to float32, exact for every value including subnormals, inf and NaN. */
    static float halfToFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | mant << 13);
        }
        if (exp == 0) {
            // Subnormal (or zero): mant * 2^-24, exact in float32.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | (exp + 112) << 23 | mant << 13);
    }
}
