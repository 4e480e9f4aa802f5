package io.lseq.core.math;

import java.util.Arrays;

/**
 * A dense layer {@code y = W x + b}, given {@code W} row-major {@code [out, in]} as PyTorch's
 * {@code nn.Linear} stores it. Immutable and shared by every thread.
 *
 * <p>The weight is kept as its columns, one array each, and applied as a sum of scaled columns
 * ({@code y += x[j] * W[:, j]}): the inner loop is element-wise over {@code y}, which C2
 * compiles to SIMD, where a row-by-row dot product is a float reduction it must keep scalar.
 * Each column is its own array because C2 (JDK 17 to 25) does not vectorize the loop when the
 * weight is indexed at a variable offset into one flat array: measured 4-5x slower.
 *
 * <p>With the JDK Vector API available ({@code --add-modules jdk.incubator.vector}) and not
 * switched off ({@code -Dlseq.vector=false}), the products run as {@link VectorKernels}
 * instead: explicit vectors with the outputs held in registers (docs/BENCHMARKS.md).
 */
public final class Linear {

    private final int in;
    private final int out;
    private final float[][] columns;
    private final float[] bias;
    /** The bias, or zeros: what the vector kernels start their sums from. */
    private final float[] biasOrZeros;

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
        this.columns = new float[in][out];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < in; j++) {
                columns[j][o] = weight[o * in + j];
            }
        }
        this.bias = bias;
        this.biasOrZeros = bias != null ? bias : new float[out];
    }

    /** Input size. */
    public int in() {
        return in;
    }

    /** Output size. */
    public int out() {
        return out;
    }

    /** The weight, row-major {@code [out, in]} as PyTorch stores it: a copy, for backends that run the model elsewhere. */
    public float[] weight() {
        float[] w = new float[out * in];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < in; j++) {
                w[o * in + j] = columns[j][o];
            }
        }
        return w;
    }

    /** A copy of the bias {@code [out]}, or null for none. */
    public float[] bias() {
        return bias == null ? null : bias.clone();
    }

    /** Number of parameters. */
    public long parameters() {
        return (long) in * out + (bias == null ? 0 : bias.length);
    }

    /** {@code y[yOff..yOff+out) = W x[xOff..xOff+in) + b}; the two ranges must not overlap. */
    public void apply(float[] x, int xOff, float[] y, int yOff) {
        if (VectorSwitch.ON) {
            VectorKernels.apply(columns, biasOrZeros, in, out, x, xOff, y, yOff);
        } else {
            applyScalar(x, xOff, y, yOff);
        }
    }

    /** {@link #apply} with the auto-vectorized loops, whatever {@link VectorSwitch#ON} says. */
    void applyScalar(float[] x, int xOff, float[] y, int yOff) {
        if (bias != null) {
            System.arraycopy(bias, 0, y, yOff, out);
        } else {
            Arrays.fill(y, yOff, yOff + out, 0f);
        }
        for (int j = 0; j < in; j++) {
            float xj = x[xOff + j];
            float[] col = columns[j];
            for (int o = 0; o < out; o++) {
                y[yOff + o] += xj * col[o];
            }
        }
    }

    /**
     * {@code y[t] = W x[t] + b} for rows {@code t} in {@code [from, to)}, each row its own array.
     * Four rows share each pass over a column, so the weights are read a quarter as often as
     * row by row: the batched product of the batch path.
     */
    public void applyRows(float[][] x, float[][] y, int from, int to) {
        if (VectorSwitch.ON) {
            VectorKernels.applyRows(columns, biasOrZeros, in, out, x, y, from, to);
        } else {
            applyRowsScalar(x, y, from, to);
        }
    }

    /** {@link #applyRows} with the auto-vectorized loops, whatever {@link VectorSwitch#ON} says. */
    void applyRowsScalar(float[][] x, float[][] y, int from, int to) {
        int t = from;
        for (; t + 3 < to; t += 4) {
            float[] x0 = x[t];
            float[] x1 = x[t + 1];
            float[] x2 = x[t + 2];
            float[] x3 = x[t + 3];
            float[] y0 = init(y[t]);
            float[] y1 = init(y[t + 1]);
            float[] y2 = init(y[t + 2]);
            float[] y3 = init(y[t + 3]);
            for (int j = 0; j < in; j++) {
                float a0 = x0[j];
                float a1 = x1[j];
                float a2 = x2[j];
                float a3 = x3[j];
                float[] col = columns[j];
                for (int o = 0; o < out; o++) {
                    float w = col[o];
                    y0[o] += a0 * w;
                    y1[o] += a1 * w;
                    y2[o] += a2 * w;
                    y3[o] += a3 * w;
                }
            }
        }
        for (; t < to; t++) {
            applyScalar(x[t], 0, y[t], 0);
        }
    }

    private float[] init(float[] y) {
        if (bias != null) {
            System.arraycopy(bias, 0, y, 0, out);
        } else {
            Arrays.fill(y, 0, out, 0f);
        }
        return y;
    }
}
