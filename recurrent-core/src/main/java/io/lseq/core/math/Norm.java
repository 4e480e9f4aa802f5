package io.lseq.core.math;

/**
 * LayerNorm (weight and bias, biased variance) or RMSNorm (weight only), over one vector of
 * width H, as {@code torch.nn.LayerNorm} and {@code torch.nn.RMSNorm} compute them.
 */
public final class Norm {
    private final boolean rms;
    private final float[] weight;
    private final float[] bias;
    private final double eps;

    /**
     * @param rms RMSNorm when true, LayerNorm otherwise
     * @param weight {@code [H]}
     * @param bias {@code [H]} for LayerNorm, null for RMSNorm
     * @param eps added to the mean square (or variance) under the root
     */
    public Norm(boolean rms, float[] weight, float[] bias, float eps) {
        this.rms = rms;
        this.weight = weight;
        this.bias = bias;
        this.eps = eps;
    }

    /** Width H. */
    public int width() {
        return weight.length;
    }

    /** A copy of the weight {@code [H]}. */
    public float[] weight() {
        return weight.clone();
    }

    /** A copy of the bias {@code [H]} (LayerNorm), or null (RMSNorm). */
    public float[] bias() {
        return bias == null ? null : bias.clone();
    }

    /** The epsilon under the root. */
    public double eps() {
        return eps;
    }

    /** Number of parameters. */
    public long parameters() {
        return weight.length + (bias == null ? 0 : bias.length);
    }

    /** {@code y[yOff..] = norm(x[xOff..])}; {@code x} and {@code y} may be the same region. */
    public void apply(float[] x, int xOff, float[] y, int yOff) {
        int n = weight.length;
        double mean = 0;
        if (!rms) {
            for (int i = 0; i < n; i++) {
                mean += x[xOff + i];
            }
            mean /= n;
        }
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double c = x[xOff + i] - mean;
            sq += c * c;
        }
        finish(x, xOff, y, yOff, mean, sq);
    }

    /**
     * {@code y[t] = norm(x[t])} for rows t in [from, to), the same bits as {@link #apply} row by
     * row. Each row's sums are one chain of dependent double additions (their order fixes the
     * bits), so a row alone waits on the adder's latency; four rows' chains run side by side.
     */
    public void applyRows(float[][] x, float[][] y, int from, int to) {
        applyRows(x, null, y, from, to);
    }

    /** {@link #applyRows(float[][], float[][], int, int)} with row t of x starting at {@code xOff[t]} (null: 0). */
    public void applyRows(float[][] x, int[] xOff, float[][] y, int from, int to) {
        int t = from;
        for (; t + 3 < to; t += 4) {
            if (xOff == null) {
                rows4(x, 0, 0, 0, 0, y, t);
            } else {
                rows4(x, xOff[t], xOff[t + 1], xOff[t + 2], xOff[t + 3], y, t);
            }
        }
        for (; t < to; t++) {
            apply(x[t], xOff == null ? 0 : xOff[t], y[t], 0);
        }
    }

    private void rows4(float[][] x, int o0, int o1, int o2, int o3, float[][] y, int t) {
        float[] x0 = x[t];
        float[] x1 = x[t + 1];
        float[] x2 = x[t + 2];
        float[] x3 = x[t + 3];
        int n = weight.length;
        double m0 = 0;
        double m1 = 0;
        double m2 = 0;
        double m3 = 0;
        if (!rms) {
            for (int i = 0; i < n; i++) {
                m0 += x0[o0 + i];
                m1 += x1[o1 + i];
                m2 += x2[o2 + i];
                m3 += x3[o3 + i];
            }
            m0 /= n;
            m1 /= n;
            m2 /= n;
            m3 /= n;
        }
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int i = 0; i < n; i++) {
            double c0 = x0[o0 + i] - m0;
            double c1 = x1[o1 + i] - m1;
            double c2 = x2[o2 + i] - m2;
            double c3 = x3[o3 + i] - m3;
            s0 += c0 * c0;
            s1 += c1 * c1;
            s2 += c2 * c2;
            s3 += c3 * c3;
        }
        finish(x0, o0, y[t], 0, m0, s0);
        finish(x1, o1, y[t + 1], 0, m1, s1);
        finish(x2, o2, y[t + 2], 0, m2, s2);
        finish(x3, o3, y[t + 3], 0, m3, s3);
    }

    /** {@code y = (x - mean) / sqrt(sq / n + eps) * weight (+ bias)}, from the row's two sums. */
    private void finish(float[] x, int xOff, float[] y, int yOff, double mean, double sq) {
        int n = weight.length;
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
        float m = (float) mean;
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - m) * inv * weight[i];
            y[yOff + i] = bias == null ? v : v + bias[i];
        }
    }
}
