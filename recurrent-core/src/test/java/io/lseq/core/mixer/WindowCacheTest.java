package io.lseq.core.mixer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ring buffer with stored rotated keys and periodic rebase, with and without attention
 * sinks, against a direct float64 evaluation that rotates by exact position differences and
 * never rebases.
 */
class WindowCacheTest {
    static final int HEADS = 2;
    static final int DK = 8;
    static final int DV = 6;
    static final int W = 20;
    static final double THETA = 10000;
    static final double LOGN = 4;

    static Stream<Arguments> startsAndSinks() {
        return LongStream.of(0, (1L << 16) - 300, 3 * (1L << 16) - 7, (1L << 40) - 333, (1L << 40) + 12345).boxed()
                .flatMap(start -> Stream.of(Arguments.of(start, 0), Arguments.of(start, 3)));
    }

    /**
     * A stream that starts at {@code start > 0} never wrote its sinks: they hold zero keys and
     * values, which still take part in the softmax, and the direct evaluation does the same.
     */
    @ParameterizedTest
    @MethodSource("startsAndSinks")
    void matchesDirectEvaluationAcrossRebases(long start, int sinks) {
        WindowCache cache = new WindowCache(HEADS, DK, DV, W, THETA, LOGN, sinks);
        double[][][] sinkKv = new double[sinks][][];
        for (int j = 0; j < sinks; j++) {
            sinkKv[j] = new double[][] {new double[HEADS * DK], new double[HEADS * DV]};
        }
        float[] state = new float[cache.stateSize()];
        float[] scratch = new float[cache.scratchSize()];
        SplittableRandom rnd = new SplittableRandom(start);
        ArrayDeque<double[][]> history = new ArrayDeque<>(); // newest first: {k, v}
        float[] q = new float[HEADS * DK];
        float[] k = new float[HEADS * DK];
        float[] v = new float[HEADS * DV];
        float[] out = new float[HEADS * DV];
        double worst = 0;
        for (int step = 0; step < 1000; step++) {
            long pos = start + step;
            double[] qd = new double[q.length];
            double[] kd = new double[k.length];
            double[] vd = new double[v.length];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) rnd.nextGaussian();
                k[i] = (float) rnd.nextGaussian();
                qd[i] = q[i];
                kd[i] = k[i];
            }
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextGaussian();
                vd[i] = v[i];
            }
            history.addFirst(new double[][] {kd, vd});
            if (pos < sinks) {
                sinkKv[(int) pos] = new double[][] {kd, vd};
            }
            if (history.size() > W) {
                history.removeLast();
            }
            cache.attend(state, 0, pos, q, 0, k, 0, v, 0, out, 0, scratch, 0);
            if (step < W) {
                continue; // the ring still holds slots this test never wrote (start > 0)
            }
            double[] want = direct(qd, history, Math.min(pos + 1, W), sinkKv, pos);
            for (int i = 0; i < out.length; i++) {
                double err = Math.abs(out[i] - want[i]) / (1e-4 + 1e-4 * Math.abs(want[i]));
                worst = Math.max(worst, err);
            }
        }
        assertTrue(worst < 0.1, "worst error is " + worst + " of the format's tolerance");
    }

    /**
     * The batch path's {@link WindowCache#attendRun} (queries in parallel on 2 threads) in runs
     * of random length, mixed with single steps, across rebases (runs that open an epoch and
     * runs that cross one) and with sinks: the same definition, the same tolerance.
     */
    @ParameterizedTest
    @MethodSource("startsAndSinks")
    void runsMatchDirectEvaluationAcrossRebases(long start, int sinks) {
        WindowCache cache = new WindowCache(HEADS, DK, DV, W, THETA, LOGN, sinks);
        int steps = 1000;
        SplittableRandom rnd = new SplittableRandom(start + 1);
        float[][] q = new float[steps][HEADS * DK];
        float[][] k = new float[steps][HEADS * DK];
        float[][] v = new float[steps][HEADS * DV];
        double[][] qd = new double[steps][];
        double[][][] kv = new double[steps][][];
        for (int t = 0; t < steps; t++) {
            double[] kd = new double[HEADS * DK];
            double[] vd = new double[HEADS * DV];
            qd[t] = new double[HEADS * DK];
            for (int i = 0; i < HEADS * DK; i++) {
                q[t][i] = (float) rnd.nextGaussian();
                k[t][i] = (float) rnd.nextGaussian();
                qd[t][i] = q[t][i];
                kd[i] = k[t][i];
            }
            for (int i = 0; i < HEADS * DV; i++) {
                v[t][i] = (float) rnd.nextGaussian();
                vd[i] = v[t][i];
            }
            kv[t] = new double[][] {kd, vd};
        }
        float[] state = new float[cache.stateSize()];
        float[] scratch = new float[cache.scratchSize()];
        float[][] out = new float[steps][HEADS * DV];
        try (io.lseq.core.math.Parallel par = new io.lseq.core.math.Parallel(2)) {
            for (int t = 0; t < steps; ) {
                int len = rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(300);
                int end = Math.min(steps, t + len);
                // Without sinks a run stops at an epoch boundary, so that the next run opens the
                // epoch (its cached keys need the rebase); with sinks runs cross it.
                long boundary = (start + t) / WindowCache.REBASE_PERIOD * WindowCache.REBASE_PERIOD
                        + WindowCache.REBASE_PERIOD;
                if (sinks == 0 && start + end > boundary) {
                    end = (int) (boundary - start);
                }
                if (len == 1) {
                    cache.attend(state, 0, start + t, q[t], 0, k[t], 0, v[t], 0, out[t], 0, scratch, 0);
                } else {
                    cache.attendRun(state, 0, start + t, q, 0, k, 0, v, 0, out, 0, t, end, par);
                }
                t = end;
            }
        }
        double[][][] sinkKv = new double[sinks][][];
        for (int j = 0; j < sinks; j++) {
            sinkKv[j] = start <= j && j - start < steps ? kv[(int) (j - start)]
                    : new double[][] {new double[HEADS * DK], new double[HEADS * DV]};
        }
        double worst = 0;
        ArrayDeque<double[][]> history = new ArrayDeque<>();
        for (int t = 0; t < steps; t++) {
            history.addFirst(kv[t]);
            if (history.size() > W) {
                history.removeLast();
            }
            if (t < W) {
                continue;
            }
            long pos = start + t;
            double[] want = direct(qd[t], history, Math.min(pos + 1, W), sinkKv, pos);
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs(out[t][i] - want[i]) / (1e-4 + 1e-4 * Math.abs(want[i])));
            }
        }
        assertTrue(worst < 0.1, "worst error is " + worst + " of the format's tolerance");
    }

    /**
     * The format's definition: window positions at their own distance from the query, sinks the
     * window no longer covers (sink j at {@code j}, moved to sit just before the window once
     * there is a gap).
     */
    private static double[] direct(double[] q, ArrayDeque<double[][]> history, long inWindow, double[][][] sinkKv,
            long pos) {
        long w0 = Math.max(0, pos - W + 1);
        int outside = (int) Math.min(sinkKv.length, w0);
        long shift = Math.max(0, w0 - sinkKv.length);
        long n = inWindow + outside;
        double[][] keys = new double[(int) n][];
        double[][] values = new double[(int) n][];
        long[] distance = new long[(int) n];
        int i = 0;
        for (Iterator<double[][]> it = history.iterator(); it.hasNext() && i < inWindow; i++) {
            double[][] kv = it.next();
            keys[i] = kv[0];
            values[i] = kv[1];
            distance[i] = i;
        }
        for (int j = 0; j < outside; j++, i++) {
            keys[i] = sinkKv[j][0];
            values[i] = sinkKv[j][1];
            distance[i] = pos - j - shift;
        }
        double[] out = new double[HEADS * DV];
        double scale = Math.max(1, Math.log(n) / Math.log(LOGN)) / Math.sqrt(DK);
        for (int h = 0; h < HEADS; h++) {
            double[] scores = new double[(int) n];
            double max = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < n; s++) {
                // rope(q, t) . rope(k, t - d) = rope(q, d) . k
                double dot = 0;
                for (int j = 0; j < DK / 2; j++) {
                    double a = distance[s] * Math.pow(THETA, -2.0 * j / DK);
                    double q1 = q[h * DK + j];
                    double q2 = q[h * DK + DK / 2 + j];
                    double r1 = q1 * Math.cos(a) - q2 * Math.sin(a);
                    double r2 = q2 * Math.cos(a) + q1 * Math.sin(a);
                    dot += r1 * keys[s][h * DK + j] + r2 * keys[s][h * DK + DK / 2 + j];
                }
                scores[s] = dot * scale;
                max = Math.max(max, scores[s]);
            }
            double sum = 0;
            for (int s = 0; s < n; s++) {
                scores[s] = Math.exp(scores[s] - max);
                sum += scores[s];
            }
            for (int s = 0; s < n; s++) {
                for (int j = 0; j < DV; j++) {
                    out[h * DV + j] += scores[s] / sum * values[s][h * DV + j];
                }
            }
        }
        return out;
    }
}
