package io.lseq.core.math;

/**
 * A dense layer {@code y = W x + b} with {@code W} row-major {@code [out, in]}, as PyTorch's
 * {@code nn.Linear} stores it. Immutable and shared by every thread.
 */
public final class Linear {
    private final int in;
    private final int out;
    private final float[] weight;
    private final float[] bias;

    /**
     * @param weight row-major {@code [out, in]}
     * @param bias {@code [out]}, or null for none
     */
    public Linear(int out, int in, float[] weight, float[] bias) {
        if (weight.length != out * in || (bias != null && bias.length != out)) {
            throw new IllegalArgumentException("weight " + weight.length + " / bias does not fit [" + out + ", " + in + "]");
        }
        this.in = in;
        this.out = out;
        this.weight = weight;
        this.bias = bias;
    }

    /** Input size. */
    public int in() {
        return in;
    }

    /** Output size. */
    public int out() {
        return out;
    }

    /** Number of parameters. */
    public long parameters() {
        return (long) weight.length + (bias == null ? 0 : bias.length);
    }

    /** {@code y[yOff..] = W x[xOff..] + b}. */
    public void apply(float[] x, int xOff, float[] y, int yOff) {
        for (int o = 0; o < out; o++) {
            float s = Vec.dot(weight, o * in, x, xOff, in);
            y[yOff + o] = bias == null ? s : s + bias[o];
        }
    }

    /** Row {@code o} of the weight times {@code x}, plus the bias: one output of {@link #apply}. */
    public float applyRow(int o, float[] x, int xOff) {
        float s = Vec.dot(weight, o * in, x, xOff, in);
        return bias == null ? s : s + bias[o];
    }
}
