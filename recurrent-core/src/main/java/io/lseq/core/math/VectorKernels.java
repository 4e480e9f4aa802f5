package io.lseq.core.math;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Linear}'s products with the JDK Vector API (the incubator module
 * {@code jdk.incubator.vector}): output tiles of four vectors stay in registers while every
 * column is folded in with FMAs, so a product loads each weight once and stores y once. The
 * auto-vectorized scalar loops reload and store y for every column, and how C2 unrolls them
 * depends on the trip counts it profiled, which differ between a model's layers.
 *
 * <p>Also the elementwise loops with exp in them (log-sum-exp of the next-token head, the GLU's
 * sigmoid, GELU's erf), through the Vector API's lanewise exp.
 *
 * <p>Only loaded when {@link VectorSwitch#ON}; never referenced otherwise, so the engine runs
 * without the module.
 */
final class VectorKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private VectorKernels() {}

    /** Lanes of the vectors in use (16 with AVX-512). */
    static int lanes() {
        return L;
    }

    /** {@code y[yOff..yOff+out) = W x[xOff..xOff+in) + b}, W as its columns. */
    static void apply(float[][] columns, float[] bias, int in, int out, float[] x, int xOff, float[] y, int yOff) {
        int o = 0;
        for (; o + 4 * L <= out; o += 4 * L) {
            FloatVector a0 = start(bias, o);
            FloatVector a1 = start(bias, o + L);
            FloatVector a2 = start(bias, o + 2 * L);
            FloatVector a3 = start(bias, o + 3 * L);
            for (int j = 0; j < in; j++) {
                FloatVector xj = FloatVector.broadcast(S, x[xOff + j]);
                float[] c = columns[j];
                a0 = FloatVector.fromArray(S, c, o).fma(xj, a0);
                a1 = FloatVector.fromArray(S, c, o + L).fma(xj, a1);
                a2 = FloatVector.fromArray(S, c, o + 2 * L).fma(xj, a2);
                a3 = FloatVector.fromArray(S, c, o + 3 * L).fma(xj, a3);
            }
            a0.intoArray(y, yOff + o);
            a1.intoArray(y, yOff + o + L);
            a2.intoArray(y, yOff + o + 2 * L);
            a3.intoArray(y, yOff + o + 3 * L);
        }
        for (; o + L <= out; o += L) {
            FloatVector a = start(bias, o);
            for (int j = 0; j < in; j++) {
                a = FloatVector.fromArray(S, columns[j], o).fma(FloatVector.broadcast(S, x[xOff + j]), a);
            }
            a.intoArray(y, yOff + o);
        }
        for (; o < out; o++) {
            float a = bias == null ? 0f : bias[o];
            for (int j = 0; j < in; j++) {
                a = Math.fma(columns[j][o], x[xOff + j], a);
            }
            y[yOff + o] = a;
        }
    }

    /**
     * {@code y[t] = W x[t] + b} for rows t in [from, to): two rows share every column load, and
     * their tiles of two vectors each stay in registers.
     */
    static void applyRows(float[][] columns, float[] bias, int in, int out, float[][] x, float[][] y, int from, int to) {
        int t = from;
        for (; t + 1 < to; t += 2) {
            float[] x0 = x[t];
            float[] x1 = x[t + 1];
            float[] y0 = y[t];
            float[] y1 = y[t + 1];
            int o = 0;
            for (; o + 2 * L <= out; o += 2 * L) {
                FloatVector a00 = start(bias, o);
                FloatVector a01 = start(bias, o + L);
                FloatVector a10 = a00;
                FloatVector a11 = a01;
                for (int j = 0; j < in; j++) {
                    float[] c = columns[j];
                    FloatVector c0 = FloatVector.fromArray(S, c, o);
                    FloatVector c1 = FloatVector.fromArray(S, c, o + L);
                    FloatVector b0 = FloatVector.broadcast(S, x0[j]);
                    FloatVector b1 = FloatVector.broadcast(S, x1[j]);
                    a00 = c0.fma(b0, a00);
                    a01 = c1.fma(b0, a01);
                    a10 = c0.fma(b1, a10);
                    a11 = c1.fma(b1, a11);
                }
                a00.intoArray(y0, o);
                a01.intoArray(y0, o + L);
                a10.intoArray(y1, o);
                a11.intoArray(y1, o + L);
            }
            if (o < out) {
                tail(columns, bias, in, out, o, x0, y0);
                tail(columns, bias, in, out, o, x1, y1);
            }
        }
        for (; t < to; t++) {
            apply(columns, bias, in, out, x[t], 0, y[t], 0);
        }
    }

    /** Outputs {@code o..out) of one row, one vector (then one lane) at a time. */
    private static void tail(float[][] columns, float[] bias, int in, int out, int o, float[] x, float[] y) {
        for (; o + L <= out; o += L) {
            FloatVector a = start(bias, o);
            for (int j = 0; j < in; j++) {
                a = FloatVector.fromArray(S, columns[j], o).fma(FloatVector.broadcast(S, x[j]), a);
            }
            a.intoArray(y, o);
        }
        for (; o < out; o++) {
            float a = bias == null ? 0f : bias[o];
            for (int j = 0; j < in; j++) {
                a = Math.fma(columns[j][o], x[j], a);
            }
            y[o] = a;
        }
    }

    /** {@code y[yOff..yOff+n) += a * x[xOff..xOff+n)}: attention's weighted sum of values. */
    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(S, a);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xOff + i).fma(av, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    /** {@link Vec#ringWeightedSum}, each output vector summed in a register over the whole window. */
    static void ringWeightedSum(float[] p, int pOff, int n, float[] rows, int base, int stride, int slot, int window,
            float[] out, int o, int dv) {
        int c = 0;
        for (; c + L <= dv; c += L) {
            FloatVector acc = FloatVector.zero(S);
            int s = slot;
            for (int i = 0; i < n; i++) {
                acc = FloatVector.fromArray(S, rows, base + s * stride + c).fma(FloatVector.broadcast(S, p[pOff + i]), acc);
                s = s == 0 ? window - 1 : s - 1;
            }
            acc.intoArray(out, o + c);
        }
        for (; c < dv; c++) {
            float acc = 0f;
            int s = slot;
            for (int i = 0; i < n; i++) {
                acc += p[pOff + i] * rows[base + s * stride + c];
                s = s == 0 ? window - 1 : s - 1;
            }
            out[o + c] = acc;
        }
    }

    /** In place: {@code v[off..off+n) = softmax(v[off..off+n))}, with the vector exp. */
    static void softmax(float[] v, int off, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= n; i += L) {
            m = m.max(FloatVector.fromArray(S, v, off + i));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (int k = i; k < n; k++) {
            max = Math.max(max, v[off + k]);
        }
        FloatVector mv = FloatVector.broadcast(S, max);
        FloatVector sum = FloatVector.zero(S);
        for (i = 0; i + L <= n; i += L) {
            FloatVector e = FloatVector.fromArray(S, v, off + i).sub(mv).lanewise(VectorOperators.EXP);
            e.intoArray(v, off + i);
            sum = sum.add(e);
        }
        double total = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(v[off + i] - max);
            v[off + i] = e;
            total += e;
        }
        float inv = (float) (1.0 / total);
        for (i = 0; i + L <= n; i += L) {
            FloatVector.fromArray(S, v, off + i).mul(inv).intoArray(v, off + i);
        }
        for (; i < n; i++) {
            v[off + i] *= inv;
        }
    }

    /** Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}: attention's scores. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i + L <= n; i += L) {
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /**
     * {@code log(sum(exp(v[off..off+n))))}: the maximum, then the sum of {@code exp(v - max)} in
     * float lanes (the vector exp is accurate to a few ulp), the log in double.
     */
    static double logSumExp(float[] v, int off, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= n; i += L) {
            m = m.max(FloatVector.fromArray(S, v, off + i));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (int k = i; k < n; k++) {
            max = Math.max(max, v[off + k]);
        }
        FloatVector mv = FloatVector.broadcast(S, max);
        FloatVector sum = FloatVector.zero(S);
        for (i = 0; i + L <= n; i += L) {
            sum = sum.add(FloatVector.fromArray(S, v, off + i).sub(mv).lanewise(VectorOperators.EXP));
        }
        double total = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            total += Math.exp(v[off + i] - max);
        }
        return max + Math.log(total);
    }

    /** {@code x[0..n) += p1 * sigmoid(p2)}: the GLU of a block. */
    static void glu(float[] x, float[] p1, float[] p2, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector g = one.div(one.add(FloatVector.fromArray(S, p2, i).neg().lanewise(VectorOperators.EXP)));
            FloatVector.fromArray(S, p1, i).fma(g, FloatVector.fromArray(S, x, i)).intoArray(x, i);
        }
        for (; i < n; i++) {
            x[i] += p1[i] * Activation.sigmoid(p2[i]);
        }
    }

    /**
     * {@code v[off..off+n) = x/2 (2 - erfc(x/sqrt 2))}: GELU with the same erfc fit as
     * {@link Activation#erfc} (fractional error below 1.2e-7), in float lanes.
     */
    static void geluErf(float[] v, int off, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(S, v, off + i);
            FloatVector u = x.mul((float) Math.sqrt(0.5));
            FloatVector z = u.abs();
            FloatVector t = z.mul(0.5f).add(1f);
            t = FloatVector.broadcast(S, 1f).div(t);
            FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
            p = t.mul(p).add(1.48851587f);
            p = t.mul(p).add(-1.13520398f);
            p = t.mul(p).add(0.27886807f);
            p = t.mul(p).add(-0.18628806f);
            p = t.mul(p).add(0.09678418f);
            p = t.mul(p).add(0.37409196f);
            p = t.mul(p).add(1.00002368f);
            p = t.mul(p).add(-1.26551223f);
            FloatVector r = t.mul(z.mul(z).neg().add(p).lanewise(VectorOperators.EXP)); // erfc(|u|)
            FloatVector erfc = r.blend(r.neg().add(2f), u.compare(VectorOperators.LT, 0f));
            x.mul(0.5f).mul(erfc.neg().add(2f)).intoArray(v, off + i);
        }
        for (; i < n; i++) {
            v[off + i] = Activation.geluErf(v[off + i]);
        }
    }

    private static FloatVector start(float[] bias, int o) {
        return bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, o);
    }
}
