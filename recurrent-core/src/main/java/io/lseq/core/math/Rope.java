package io.lseq.core.math;

/**
 * Rotary position embedding, half-split convention: a vector {@code u = [u1, u2]} of even size d
 * becomes {@code [u1 cos - u2 sin, u2 cos + u1 sin]} with angles {@code pos * theta^(-2j/d)}.
 * Angles are formed in double from a position that callers keep small (see
 * {@code io.lseq.core.mixer.WindowCache}), so cos and sin stay exact to float precision.
 */
public final class Rope {
    private final int half;
    private final double[] invFreq;

    /**
     * @param d vector size, even
     * @param theta base
     */
    public Rope(int d, double theta) {
        if (d % 2 != 0) {
            throw new IllegalArgumentException("RoPE needs an even size, got " + d);
        }
        half = d / 2;
        invFreq = new double[half];
        for (int j = 0; j < half; j++) {
            invFreq[j] = Math.pow(theta, -2.0 * j / d);
        }
    }

    /** d / 2: the length of the cos and sin tables. */
    public int half() {
        return half;
    }

    /** Fills {@code cos[off..off+d/2)} and {@code sin[off..off+d/2)} for position {@code pos}. */
    public void angles(double pos, float[] cos, int cosOff, float[] sin, int sinOff) {
        for (int j = 0; j < half; j++) {
            double a = pos * invFreq[j];
            cos[cosOff + j] = (float) Math.cos(a);
            sin[sinOff + j] = (float) Math.sin(a);
        }
    }

    /** Rotates {@code u[off..off+d)} in place by the angles in the tables. */
    public void rotate(float[] u, int off, float[] cos, int cosOff, float[] sin, int sinOff) {
        for (int j = 0; j < half; j++) {
            float u1 = u[off + j];
            float u2 = u[off + half + j];
            float c = cos[cosOff + j];
            float s = sin[sinOff + j];
            u[off + j] = u1 * c - u2 * s;
            u[off + half + j] = u2 * c + u1 * s;
        }
    }
}
