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
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
        float m = (float) mean;
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - m) * inv * weight[i];
            y[yOff + i] = bias == null ? v : v + bias[i];
        }
    }
}
