package io.lseq.core.math;

/** Loops over flat {@code float[]} used by every layer. */
public final class Vec {
    private Vec() {}

    /** Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        // Four partial sums: shorter dependency chains, and closer to float64 than one running sum.
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[bOff + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** {@code x[0..n) += p1 * sigmoid(p2)}: a block's gated linear unit. */
    public static void glu(float[] x, float[] p1, float[] p2, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.glu(x, p1, p2, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            x[i] += p1[i] * Activation.sigmoid(p2[i]);
        }
    }

    /** In place: {@code v[off..off+n) = softmax(v[off..off+n))}. */
    public static void softmax(float[] v, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, v[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(v[off + i] - max);
            v[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            v[off + i] *= inv;
        }
    }

    /** {@code log(sum(exp(v[off..off+n))))}, computed without overflow. */
    public static double logSumExp(float[] v, int off, int n) {
        if (VectorSwitch.ON) {
            return VectorKernels.logSumExp(v, off, n);
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, v[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(v[off + i] - max);
        }
        return max + Math.log(sum);
    }
}
