package io.lseq.core.math;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Linear}'s products with the JDK Vector API (the incubator module
 * {@code jdk.incubator.vector}): output tiles of four vectors stay in registers while every
 * column is folded in with FMAs, so a product loads each weight once and stores y once. The
 * auto-vectorized scalar loops reload and store y for every column, and how C2 unrolls them
 * depends on the trip counts it profiled, which differ between a model's layers.
 *
 * <p>Also the elementwise loops with exp in them (log-sum-exp of the next-token head, the GLU's
 * sigmoid, GELU's erf) and attention's dot products, softmax and weighted sums; all of them
 * give the same bits on every run (see the section comment below).
 *
 * <p>Only loaded when {@link VectorSwitch#ON}; never referenced otherwise, so the engine runs
 * without the module.
 */
final class VectorKernels {
    /** One species for the whole class: C2 (JDK 17) stops intrinsifying, and boxes, when a class mixes two. */
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
            FloatVector a0 = FloatVector.fromArray(S, bias, o);
            FloatVector a1 = FloatVector.fromArray(S, bias, o + L);
            FloatVector a2 = FloatVector.fromArray(S, bias, o + 2 * L);
            FloatVector a3 = FloatVector.fromArray(S, bias, o + 3 * L);
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
            FloatVector a = FloatVector.fromArray(S, bias, o);
            for (int j = 0; j < in; j++) {
                a = FloatVector.fromArray(S, columns[j], o).fma(FloatVector.broadcast(S, x[xOff + j]), a);
            }
            a.intoArray(y, yOff + o);
        }
        for (; o < out; o++) {
            float a = bias[o];
            for (int j = 0; j < in; j++) {
                a = Math.fma(columns[j][o], x[xOff + j], a);
            }
            y[yOff + o] = a;
        }
    }

    /**
     * {@code y[t] = W x[t] + b} for rows t in [from, to): four rows, then two, share every column
     * load, their tiles staying in registers; a last odd row takes {@link #apply}.
     *
     * <p>Only the dispatch lives here, so that C2 inlines it (the tiles' bodies are far over its
     * inlining size): a one-row product, the step's, then costs the same one call as
     * {@link #apply} alone.
     */
    static void applyRows(float[][] columns, float[] bias, int in, int out, float[][] x, float[][] y, int from, int to) {
        int t = from;
        if (L >= 16) {
            for (; t + 7 < to; t += 8) {
                rows8(columns, bias, in, out, x, y, t);
            }
        }
        for (; t + 3 < to; t += 4) {
            rows4(columns, bias, in, out, x, y, t);
        }
        for (; t + 1 < to; t += 2) {
            rows2(columns, bias, in, out, x, y, t);
        }
        if (t < to) {
            apply(columns, bias, in, out, x[t], 0, y[t], 0);
        }
    }

    /**
     * Rows {@code t..t+7}: eight rows share each pair of column loads, 16 accumulators, 2 columns
     * and 8 broadcasts in AVX-512's 32 registers. Half the weight traffic per multiply-add of
     * {@link #rows4}: with many rows the products wait on weights streamed from L2, not on FMAs.
     * The same sums in the same order as every other path: the same bits.
     */
    private static void rows8(float[][] columns, float[] bias, int in, int out, float[][] x, float[][] y, int t) {
        float[] x0 = x[t];
        float[] x1 = x[t + 1];
        float[] x2 = x[t + 2];
        float[] x3 = x[t + 3];
        float[] x4 = x[t + 4];
        float[] x5 = x[t + 5];
        float[] x6 = x[t + 6];
        float[] x7 = x[t + 7];
        int o = 0;
        for (; o + 2 * L <= out; o += 2 * L) {
            FloatVector a00 = FloatVector.fromArray(S, bias, o);
            FloatVector a01 = FloatVector.fromArray(S, bias, o + L);
            FloatVector a10 = a00;
            FloatVector a11 = a01;
            FloatVector a20 = a00;
            FloatVector a21 = a01;
            FloatVector a30 = a00;
            FloatVector a31 = a01;
            FloatVector a40 = a00;
            FloatVector a41 = a01;
            FloatVector a50 = a00;
            FloatVector a51 = a01;
            FloatVector a60 = a00;
            FloatVector a61 = a01;
            FloatVector a70 = a00;
            FloatVector a71 = a01;
            for (int j = 0; j < in; j++) {
                float[] c = columns[j];
                FloatVector c0 = FloatVector.fromArray(S, c, o);
                FloatVector c1 = FloatVector.fromArray(S, c, o + L);
                FloatVector b = FloatVector.broadcast(S, x0[j]);
                a00 = c0.fma(b, a00);
                a01 = c1.fma(b, a01);
                b = FloatVector.broadcast(S, x1[j]);
                a10 = c0.fma(b, a10);
                a11 = c1.fma(b, a11);
                b = FloatVector.broadcast(S, x2[j]);
                a20 = c0.fma(b, a20);
                a21 = c1.fma(b, a21);
                b = FloatVector.broadcast(S, x3[j]);
                a30 = c0.fma(b, a30);
                a31 = c1.fma(b, a31);
                b = FloatVector.broadcast(S, x4[j]);
                a40 = c0.fma(b, a40);
                a41 = c1.fma(b, a41);
                b = FloatVector.broadcast(S, x5[j]);
                a50 = c0.fma(b, a50);
                a51 = c1.fma(b, a51);
                b = FloatVector.broadcast(S, x6[j]);
                a60 = c0.fma(b, a60);
                a61 = c1.fma(b, a61);
                b = FloatVector.broadcast(S, x7[j]);
                a70 = c0.fma(b, a70);
                a71 = c1.fma(b, a71);
            }
            a00.intoArray(y[t], o);
            a01.intoArray(y[t], o + L);
            a10.intoArray(y[t + 1], o);
            a11.intoArray(y[t + 1], o + L);
            a20.intoArray(y[t + 2], o);
            a21.intoArray(y[t + 2], o + L);
            a30.intoArray(y[t + 3], o);
            a31.intoArray(y[t + 3], o + L);
            a40.intoArray(y[t + 4], o);
            a41.intoArray(y[t + 4], o + L);
            a50.intoArray(y[t + 5], o);
            a51.intoArray(y[t + 5], o + L);
            a60.intoArray(y[t + 6], o);
            a61.intoArray(y[t + 6], o + L);
            a70.intoArray(y[t + 7], o);
            a71.intoArray(y[t + 7], o + L);
        }
        if (o < out) {
            for (int r = t; r < t + 8; r++) {
                tail(columns, bias, in, out, o, x[r], y[r]);
            }
        }
    }

    /**
     * Rows {@code t..t+3}: four rows share each pair of column loads; 8 accumulators, 2 columns and
     * 4 broadcasts fit the register file.
     */
    private static void rows4(float[][] columns, float[] bias, int in, int out, float[][] x, float[][] y, int t) {
        float[] x0 = x[t];
        float[] x1 = x[t + 1];
        float[] x2 = x[t + 2];
        float[] x3 = x[t + 3];
        int o = 0;
        for (; o + 2 * L <= out; o += 2 * L) {
            FloatVector a00 = FloatVector.fromArray(S, bias, o);
            FloatVector a01 = FloatVector.fromArray(S, bias, o + L);
            FloatVector a10 = a00;
            FloatVector a11 = a01;
            FloatVector a20 = a00;
            FloatVector a21 = a01;
            FloatVector a30 = a00;
            FloatVector a31 = a01;
            for (int j = 0; j < in; j++) {
                float[] c = columns[j];
                FloatVector c0 = FloatVector.fromArray(S, c, o);
                FloatVector c1 = FloatVector.fromArray(S, c, o + L);
                FloatVector b0 = FloatVector.broadcast(S, x0[j]);
                FloatVector b1 = FloatVector.broadcast(S, x1[j]);
                FloatVector b2 = FloatVector.broadcast(S, x2[j]);
                FloatVector b3 = FloatVector.broadcast(S, x3[j]);
                a00 = c0.fma(b0, a00);
                a01 = c1.fma(b0, a01);
                a10 = c0.fma(b1, a10);
                a11 = c1.fma(b1, a11);
                a20 = c0.fma(b2, a20);
                a21 = c1.fma(b2, a21);
                a30 = c0.fma(b3, a30);
                a31 = c1.fma(b3, a31);
            }
            a00.intoArray(y[t], o);
            a01.intoArray(y[t], o + L);
            a10.intoArray(y[t + 1], o);
            a11.intoArray(y[t + 1], o + L);
            a20.intoArray(y[t + 2], o);
            a21.intoArray(y[t + 2], o + L);
            a30.intoArray(y[t + 3], o);
            a31.intoArray(y[t + 3], o + L);
        }
        if (o < out) {
            for (int r = t; r < t + 4; r++) {
                tail(columns, bias, in, out, o, x[r], y[r]);
            }
        }
    }

    /** Rows {@code t, t+1}: two rows share each pair of column loads. */
    private static void rows2(float[][] columns, float[] bias, int in, int out, float[][] x, float[][] y, int t) {
        float[] x0 = x[t];
        float[] x1 = x[t + 1];
        float[] y0 = y[t];
        float[] y1 = y[t + 1];
        int o = 0;
        for (; o + 2 * L <= out; o += 2 * L) {
            FloatVector a00 = FloatVector.fromArray(S, bias, o);
            FloatVector a01 = FloatVector.fromArray(S, bias, o + L);
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

    /** Outputs {@code o..out) of one row, one vector (then one lane) at a time. */
    private static void tail(float[][] columns, float[] bias, int in, int out, int o, float[] x, float[] y) {
        for (; o + L <= out; o += L) {
            FloatVector a = FloatVector.fromArray(S, bias, o);
            for (int j = 0; j < in; j++) {
                a = FloatVector.fromArray(S, columns[j], o).fma(FloatVector.broadcast(S, x[j]), a);
            }
            a.intoArray(y, o);
        }
        for (; o < out; o++) {
            float a = bias[o];
            for (int j = 0; j < in; j++) {
                a = Math.fma(columns[j][o], x[j], a);
            }
            y[o] = a;
        }
    }

    // ---- Elementwise loops and reductions --------------------------------------------------
    //
    // Bit for bit the same results on every run: each element goes through the same IEEE
    // operations whether it falls in a vector or in the scalar tail (FMA in both), exp is
    // computed here (the Vector API's lanewise EXP is an intrinsic in C2 but plain Math.exp
    // before, so a score would depend on the JIT's progress), and sums over lanes run in one
    // fixed tree (reduceLanes(ADD) leaves the order open). Machines with another vector width
    // (AVX2: 8 lanes, AVX-512: 16) sum in another tree, which can change the last bits.
    //
    // No method here takes or returns a vector. A vector passed through a call that C2 does not
    // inline is boxed on the heap, and C2 stops inlining in a method that has grown large (its
    // node-count cutoff): JDK 25 did so in the step of a one-block LRU model, 192 bytes per event,
    // where JDK 17 had inlined. So exp is one kernel over an array (expShifted), and the kernels
    // with exp in them stage its argument in an array, call it, and finish in a second loop; a
    // call that is not inlined then costs a call, never an allocation.

    private static final VectorShuffle<Float> SWAP8 = L >= 16 ? VectorShuffle.fromOp(S, i -> i ^ 8) : null;
    private static final VectorShuffle<Float> SWAP4 = L >= 8 ? VectorShuffle.fromOp(S, i -> i ^ 4) : null;
    private static final VectorShuffle<Float> SWAP2 = VectorShuffle.fromOp(S, i -> i ^ 2);
    private static final VectorShuffle<Float> SWAP1 = VectorShuffle.fromOp(S, i -> i ^ 1);

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, in the low bits. */
    private static final float ROUND = 12582912f;
    private static final float EXP_MIN = -87.33f;
    private static final float EXP_MAX = 88.72f;

    private static final FloatVector E_MIN = FloatVector.broadcast(S, EXP_MIN);
    private static final FloatVector E_MAX = FloatVector.broadcast(S, EXP_MAX);
    private static final FloatVector E_LOG2E = FloatVector.broadcast(S, LOG2E);
    private static final FloatVector E_ROUND = FloatVector.broadcast(S, ROUND);
    private static final FloatVector E_LN2_HI = FloatVector.broadcast(S, -LN2_HI);
    private static final FloatVector E_LN2_LO = FloatVector.broadcast(S, -LN2_LO);
    private static final FloatVector E_C6 = FloatVector.broadcast(S, 1f / 720);
    private static final FloatVector E_C5 = FloatVector.broadcast(S, 1f / 120);
    private static final FloatVector E_C4 = FloatVector.broadcast(S, 1f / 24);
    private static final FloatVector E_C3 = FloatVector.broadcast(S, 1f / 6);
    private static final FloatVector E_C2 = FloatVector.broadcast(S, 0.5f);
    private static final FloatVector E_ONE = FloatVector.broadcast(S, 1f);
    private static final FloatVector E_TWO = FloatVector.broadcast(S, 2f);
    private static final FloatVector E_MINUS_ONE = FloatVector.broadcast(S, -1f);
    private static final IntVector E_ROUND_BITS = IntVector.broadcast(IntVector.SPECIES_PREFERRED, Float.floatToRawIntBits(ROUND));

    /**
     * In place: {@code v[off..off+n) = e^(v - shift)}; returns the sum of the new values (lanes
     * in the fixed tree, then the tail in order). e^x to about 2 ulp for x in [-87.33, 88.72]
     * (clamped outside): x = k ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by its degree-6
     * Taylor polynomial (error 1.2e-7), then 2^k through the exponent bits.
     */
    static float expShifted(float[] v, int off, int n, float shift) {
        FloatVector sv = FloatVector.broadcast(S, shift);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(S, v, off + i).sub(sv).max(E_MIN).min(E_MAX);
            FloatVector kr = x.fma(E_LOG2E, E_ROUND);                  // k + ROUND, k = round(x log2 e)
            FloatVector k = kr.sub(E_ROUND);
            FloatVector r = k.fma(E_LN2_LO, k.fma(E_LN2_HI, x));
            FloatVector p = E_C6.fma(r, E_C5).fma(r, E_C4).fma(r, E_C3).fma(r, E_C2).fma(r, E_ONE).fma(r, E_ONE);
            IntVector bits = ((IntVector) kr.reinterpretAsInts()).sub(E_ROUND_BITS).lanewise(VectorOperators.LSHL, 23);
            FloatVector e = ((IntVector) p.reinterpretAsInts()).add(bits).reinterpretAsFloats();
            e.intoArray(v, off + i);
            acc = acc.add(e);
        }
        if (L >= 16) {
            acc = acc.add(acc.rearrange(SWAP8));
        }
        if (L >= 8) {
            acc = acc.add(acc.rearrange(SWAP4));
        }
        acc = acc.add(acc.rearrange(SWAP2));
        float total = acc.add(acc.rearrange(SWAP1)).lane(0);
        for (; i < n; i++) {
            float e = exp(v[off + i] - shift);
            v[off + i] = e;
            total += e;
        }
        return total;
    }

    /** {@link #expShifted}'s exp for one float, operation for operation: the tails of the loops. */
    static float exp(float x) {
        x = Math.min(Math.max(x, EXP_MIN), EXP_MAX);
        float kr = Math.fma(x, LOG2E, ROUND);
        float k = kr - ROUND;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, -LN2_LO, r);
        float p = 1f / 720;
        p = Math.fma(p, r, 1f / 120);
        p = Math.fma(p, r, 1f / 24);
        p = Math.fma(p, r, 1f / 6);
        p = Math.fma(p, r, 0.5f);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int bits = (Float.floatToRawIntBits(kr) - Float.floatToRawIntBits(ROUND)) << 23;
        return Float.intBitsToFloat(Float.floatToRawIntBits(p) + bits);
    }

    /** {@code y[yOff..yOff+n) += a * x[xOff..xOff+n)}: attention's weighted sum of values. */
    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(S, a);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xOff + i).fma(av, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = Math.fma(x[xOff + i], a, y[yOff + i]);
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
                acc = Math.fma(rows[base + s * stride + c], p[pOff + i], acc);
                s = s == 0 ? window - 1 : s - 1;
            }
            out[o + c] = acc;
        }
    }

    /** The largest of {@code v[off..off+n)} (exact in any order). */
    private static float max(float[] v, int off, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= n; i += L) {
            m = m.max(FloatVector.fromArray(S, v, off + i));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, v[off + i]);
        }
        return max;
    }

    /** In place: {@code v[off..off+n) = softmax(v[off..off+n))}. */
    static void softmax(float[] v, int off, int n) {
        float inv = 1f / expShifted(v, off, n, max(v, off, n));
        int i = 0;
        for (; i + L <= n; i += L) {
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
        // expShifted's tree
        if (L >= 16) {
            acc = acc.add(acc.rearrange(SWAP8));
        }
        if (L >= 8) {
            acc = acc.add(acc.rearrange(SWAP4));
        }
        acc = acc.add(acc.rearrange(SWAP2));
        float s = acc.add(acc.rearrange(SWAP1)).lane(0);
        for (; i < n; i++) {
            s = Math.fma(a[aOff + i], b[bOff + i], s);
        }
        return s;
    }

    /**
     * {@code log(sum(exp(v[off..off+n))))}: the maximum, the sum of {@code exp(v - max)}, the log
     * in double. Leaves {@code exp(v - max)} in v.
     */
    static double logSumExp(float[] v, int off, int n) {
        float max = max(v, off, n);
        return max + Math.log(expShifted(v, off, n, max));
    }

    /** {@code x[0..n) += p1 * sigmoid(p2)}: the GLU of a block. Leaves {@code exp(-p2)} in p2. */
    static void glu(float[] x, float[] p1, float[] p2, int n) {
        negate(p2, 0, n);
        expShifted(p2, 0, n, 0f);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector g = E_ONE.div(E_ONE.add(FloatVector.fromArray(S, p2, i)));
            FloatVector.fromArray(S, p1, i).fma(g, FloatVector.fromArray(S, x, i)).intoArray(x, i);
        }
        for (; i < n; i++) {
            float g = 1f / (1f + p2[i]);
            x[i] = Math.fma(p1[i], g, x[i]);
        }
    }

    /** {@code v[off..+n) = -v}. */
    private static void negate(float[] v, int off, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, v, off + i).neg().intoArray(v, off + i);
        }
        for (; i < n; i++) {
            v[off + i] = -v[off + i];
        }
    }

    // The recurrent gates: sigmoid(x) = 1 / (1 + e^-x), tanh(x) = 2 sigmoid(2x) - 1 (absolute
    // error a few ulps of 1). Each stages -x or -2x in its output, takes exp there, then finishes.

    /** {@code a[aOff..+n) = sigmoid(a + b)}. */
    static void sigmoidAdd(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).neg().intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] = -(a[aOff + i] + b[bOff + i]);
        }
        expShifted(a, aOff, n, 0f);
        i = 0;
        for (; i + L <= n; i += L) {
            E_ONE.div(E_ONE.add(FloatVector.fromArray(S, a, aOff + i))).intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] = 1f / (1f + a[aOff + i]);
        }
    }

    /** {@code a[aOff..+n) = tanh(a + b)}. */
    static void tanhAdd(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i));
            x.add(x).neg().intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            float x = a[aOff + i] + b[bOff + i];
            a[aOff + i] = -(x + x);
        }
        tanhFinish(a, aOff, n);
    }

    /** {@code a[aOff..+n) = tanh(a + r * g)}: the GRU's candidate. */
    static void tanhFma(float[] r, int rOff, float[] g, int gOff, float[] a, int aOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(S, r, rOff + i).fma(FloatVector.fromArray(S, g, gOff + i),
                    FloatVector.fromArray(S, a, aOff + i));
            x.add(x).neg().intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            float x = Math.fma(r[rOff + i], g[gOff + i], a[aOff + i]);
            a[aOff + i] = -(x + x);
        }
        tanhFinish(a, aOff, n);
    }

    /** {@code y[yOff..+n) = tanh(x[xOff..+n))}. */
    static void tanh(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            v.add(v).neg().intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            float v = x[xOff + i];
            y[yOff + i] = -(v + v);
        }
        tanhFinish(y, yOff, n);
    }

    /** {@code a[aOff..+n) = 2 / (1 + e^a) - 1} = tanh(x) where a = -2x on entry. */
    private static void tanhFinish(float[] a, int aOff, int n) {
        expShifted(a, aOff, n, 0f);
        int i = 0;
        for (; i + L <= n; i += L) {
            E_ONE.div(E_ONE.add(FloatVector.fromArray(S, a, aOff + i))).fma(E_TWO, E_MINUS_ONE).intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] = Math.fma(1f / (1f + a[aOff + i]), 2f, -1f);
        }
    }

    private static final float SQRT_HALF = (float) Math.sqrt(0.5);

    /**
     * {@code v[off..off+n) = x/2 (2 - erfc(x/sqrt 2))}: GELU with the erfc fit of
     * {@link Activation#erfc} (fractional error below 1.2e-7), in float. erfc(z) = t e^(p(t) -
     * z^2) with t = 1 / (1 + z/2): the exponent is staged in {@code scratch[0..n)}.
     */
    static void geluErf(float[] v, int off, int n, float[] scratch) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector z = FloatVector.fromArray(S, v, off + i).mul(G_SQRT_HALF).abs();
            FloatVector t = E_ONE.div(z.fma(G_HALF, E_ONE));
            FloatVector p = t.fma(G_C9, G_C8);
            p = t.fma(p, G_C7).fma(t, G_C6).fma(t, G_C5);
            p = p.fma(t, G_C4).fma(t, G_C3).fma(t, G_C2).fma(t, G_C1).fma(t, G_C0);
            z.mul(z).neg().add(p).intoArray(scratch, i);
        }
        for (; i < n; i++) {
            float z = Math.abs(v[off + i] * SQRT_HALF);
            float t = 1f / Math.fma(z, 0.5f, 1f);
            float p = Math.fma(t, 0.17087277f, -0.82215223f);
            p = Math.fma(t, p, 1.48851587f);
            p = Math.fma(t, p, -1.13520398f);
            p = Math.fma(t, p, 0.27886807f);
            p = Math.fma(t, p, -0.18628806f);
            p = Math.fma(t, p, 0.09678418f);
            p = Math.fma(t, p, 0.37409196f);
            p = Math.fma(t, p, 1.00002368f);
            p = Math.fma(t, p, -1.26551223f);
            scratch[i] = -(z * z) + p;
        }
        expShifted(scratch, 0, n, 0f);
        i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(S, v, off + i);
            FloatVector u = x.mul(G_SQRT_HALF);
            FloatVector t = E_ONE.div(u.abs().fma(G_HALF, E_ONE));
            FloatVector r = t.mul(FloatVector.fromArray(S, scratch, i));        // erfc(|u|)
            FloatVector erfc = r.blend(G_TWO.sub(r), u.compare(VectorOperators.LT, G_ZERO));
            x.mul(G_HALF).mul(G_TWO.sub(erfc)).intoArray(v, off + i);
        }
        for (; i < n; i++) {
            float x = v[off + i];
            float u = x * SQRT_HALF;
            float r = 1f / Math.fma(Math.abs(u), 0.5f, 1f) * scratch[i];
            float erfc = u < 0f ? 2f - r : r;
            v[off + i] = x * 0.5f * (2f - erfc);
        }
    }

    private static final FloatVector G_SQRT_HALF = FloatVector.broadcast(S, SQRT_HALF);
    private static final FloatVector G_HALF = FloatVector.broadcast(S, 0.5f);
    private static final FloatVector G_TWO = FloatVector.broadcast(S, 2f);
    private static final FloatVector G_ZERO = FloatVector.zero(S);
    private static final FloatVector G_C9 = FloatVector.broadcast(S, 0.17087277f);
    private static final FloatVector G_C8 = FloatVector.broadcast(S, -0.82215223f);
    private static final FloatVector G_C7 = FloatVector.broadcast(S, 1.48851587f);
    private static final FloatVector G_C6 = FloatVector.broadcast(S, -1.13520398f);
    private static final FloatVector G_C5 = FloatVector.broadcast(S, 0.27886807f);
    private static final FloatVector G_C4 = FloatVector.broadcast(S, -0.18628806f);
    private static final FloatVector G_C3 = FloatVector.broadcast(S, 0.09678418f);
    private static final FloatVector G_C2 = FloatVector.broadcast(S, 0.37409196f);
    private static final FloatVector G_C1 = FloatVector.broadcast(S, 1.00002368f);
    private static final FloatVector G_C0 = FloatVector.broadcast(S, -1.26551223f);
}
