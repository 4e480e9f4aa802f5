package io.lseq.core.math;

/** Loops over flat {@code float[]} used by every layer. */
public final class Vec {
    private Vec() {}

    /** Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        if (VectorSwitch.ON && n >= 8) {
            return VectorKernels.dot(a, aOff, b, bOff, n);
        }
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

    /** {@code x[0..n) += p1 * sigmoid(p2)}: a block's gated linear unit. Leaves p2 undefined. */
    public static void glu(float[] x, float[] p1, float[] p2, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.glu(x, p1, p2, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            x[i] += p1[i] * Activation.sigmoid(p2[i]);
        }
    }

    /** {@code a[aOff..aOff+n) = sigmoid(a + b)}: recurrent gates. */
    public static void sigmoidAdd(float[] a, int aOff, float[] b, int bOff, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.sigmoidAdd(a, aOff, b, bOff, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            a[aOff + i] = Activation.sigmoid(a[aOff + i] + b[bOff + i]);
        }
    }

    /** {@code a[aOff..aOff+n) = tanh(a + b)}. */
    public static void tanhAdd(float[] a, int aOff, float[] b, int bOff, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.tanhAdd(a, aOff, b, bOff, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            a[aOff + i] = Activation.tanh(a[aOff + i] + b[bOff + i]);
        }
    }

    /** {@code a[aOff..aOff+n) = tanh(a + r * g)}. */
    public static void tanhFma(float[] r, int rOff, float[] g, int gOff, float[] a, int aOff, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.tanhFma(r, rOff, g, gOff, a, aOff, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            a[aOff + i] = Activation.tanh(a[aOff + i] + r[rOff + i] * g[gOff + i]);
        }
    }

    /** {@code y[yOff..yOff+n) = tanh(x[xOff..xOff+n))}. */
    public static void tanh(float[] x, int xOff, float[] y, int yOff, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.tanh(x, xOff, y, yOff, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            y[yOff + i] = Activation.tanh(x[xOff + i]);
        }
    }

    /** {@code y[yOff..yOff+n) += a * x[xOff..xOff+n)}. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        if (VectorSwitch.ON && n >= 8) {
            VectorKernels.axpy(a, x, xOff, y, yOff, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    /**
     * {@code out[o..o+dv) = sum_i p[pOff+i] * rows[base + s_i*stride ..)} over the rows of a ring
     * buffer walked backwards from {@code slot}: {@code s_0 = slot}, {@code s_(i+1) = s_i - 1 mod
     * window}. Attention's weighted sum of the values in its window, newest first.
     */
    public static void ringWeightedSum(float[] p, int pOff, int n, float[] rows, int base, int stride, int slot,
            int window, float[] out, int o, int dv) {
        if (VectorSwitch.ON && dv >= 8) {
            VectorKernels.ringWeightedSum(p, pOff, n, rows, base, stride, slot, window, out, o, dv);
            return;
        }
        for (int j = 0; j < dv; j++) {
            out[o + j] = 0f;
        }
        int s = slot;
        for (int i = 0; i < n; i++) {
            float w = p[pOff + i];
            int r = base + s * stride;
            for (int j = 0; j < dv; j++) {
                out[o + j] += w * rows[r + j];
            }
            s = s == 0 ? window - 1 : s - 1;
        }
    }

    /** In place: {@code v[off..off+n) = softmax(v[off..off+n))}. */
    public static void softmax(float[] v, int off, int n) {
        if (VectorSwitch.ON) {
            VectorKernels.softmax(v, off, n);
            return;
        }
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

    /** {@code log(sum(exp(v[off..off+n))))}, computed without overflow. Leaves v undefined. */
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
