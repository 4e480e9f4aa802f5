package io.lseq.core.mixer;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;

/**
 * Linear Recurrent Unit (Orvieto et al. 2023): a diagonal complex recurrence
 * {@code h_t = lambda * h_{t-1} + gamma * (B a_t)}, output {@code Re(C h_t) + D * a_t}.
 *
 * <p>State: {@code re[N]} then {@code im[N]}. Lambda is kept in double: with |lambda| near 1 the
 * steady state gains 1/(1-|lambda|), and a float32 lambda would bias it by up to 6e-8/(1-|lambda|)
 * relative, 6e-4 at |lambda| = 0.9999. Gamma is folded into B at load time.
 */
public final class LruMixer implements Mixer {
    static final double MAX_MODULUS = 1.0 - 0x1p-40;

    private final int h;
    private final int n;
    private final double[] lambdaRe;
    private final double[] lambdaIm;
    /** ln|lambda| and arg(lambda), for lambda^L in one step: the scan's chunk carries. */
    private final double[] lambdaLogMod;
    private final double[] lambdaPhase;
    /** {@code [gamma * B_re; gamma * B_im]}: one {@code [2N, H]} product gives the input's re and im. */
    private final Linear b;
    /** {@code [C_re, -C_im]}: one {@code [H, 2N]} product of the state (re then im) gives Re(C h). */
    private final Linear c;
    private final float[] d;

    /** Takes the {@code prefix} tensors (for example {@code blocks.0.mixer.}) from {@code w}. */
    public LruMixer(Weights w, String prefix, int h, int n) {
        this.h = h;
        this.n = n;
        float[] nuLog = w.take(prefix + "nu_log", n);
        float[] thetaLog = w.take(prefix + "theta_log", n);
        float[] gammaLog = w.take(prefix + "gamma_log", n);
        float[] bRe = w.take(prefix + "B_re", n, h);
        float[] bIm = w.take(prefix + "B_im", n, h);
        float[] cRe = w.take(prefix + "C_re", h, n);
        float[] cIm = w.take(prefix + "C_im", h, n);
        d = w.take(prefix + "D", h);
        lambdaRe = new double[n];
        lambdaIm = new double[n];
        lambdaLogMod = new double[n];
        lambdaPhase = new double[n];
        float[] bStacked = new float[2 * n * h];
        for (int i = 0; i < n; i++) {
            double mod = modulus(nuLog[i]);
            double phase = Math.exp(thetaLog[i]);
            float gamma = (float) Math.exp(gammaLog[i]);
            if (Double.isInfinite(phase) || Float.isInfinite(gamma)) {
                throw new ModelFormatException(w.file(), "tensor " + prefix + (Float.isInfinite(gamma) ? "gamma_log" : "theta_log")
                        + "[" + i + "] = " + (Float.isInfinite(gamma) ? gammaLog[i] : thetaLog[i]) + " overflows exp()");
            }
            lambdaRe[i] = mod * Math.cos(phase);
            lambdaIm[i] = mod * Math.sin(phase);
            lambdaLogMod[i] = Math.log(mod);
            lambdaPhase[i] = phase;
            for (int j = 0; j < h; j++) {
                bStacked[i * h + j] = gamma * bRe[i * h + j];
                bStacked[(n + i) * h + j] = gamma * bIm[i * h + j];
            }
        }
        b = new Linear(2 * n, h, bStacked, null);
        float[] cStacked = new float[h * 2 * n];
        for (int o = 0; o < h; o++) {
            for (int i = 0; i < n; i++) {
                cStacked[o * 2 * n + i] = cRe[o * n + i];
                cStacked[o * 2 * n + n + i] = -cIm[o * n + i];
            }
        }
        c = new Linear(h, 2 * n, cStacked, null);
    }

    /**
     * |lambda| = exp(-exp(nu_log)), capped at 1 - 2^-40: exp(-exp(nu)) rounds to exactly 1 once
     * exp(nu) < 1.1e-16; the cap keeps |lambda| < 1 through the cos/sin rounding too, and differs
     * from the exact value only after ~10^12 events. Every backend takes lambda from here.
     */
    public static double modulus(float nuLog) {
        return Math.min(Math.exp(-Math.exp(nuLog)), MAX_MODULUS);
    }

    /**
     * What the LRU computes with, derived once at load: lambda in double (and as log-modulus and
     * phase, for lambda^L in closed form), B with gamma folded in, C, D. For backends that run
     * the recurrence elsewhere (the GPU); arrays are copies.
     *
     * @param lambdaRe Re(lambda) {@code [N]}
     * @param lambdaIm Im(lambda) {@code [N]}
     * @param logModulus ln|lambda| {@code [N]}
     * @param phase arg(lambda) {@code [N]}
     * @param b {@code [2N, H]} row-major: rows {@code i} = gamma_i B_re[i], rows {@code N + i} = gamma_i B_im[i]
     * @param c {@code [H, 2N]} row-major: columns {@code i} = C_re[:, i], columns {@code N + i} = -C_im[:, i]
     * @param d {@code [H]}
     */
    public record Params(int n, int h, double[] lambdaRe, double[] lambdaIm, double[] logModulus, double[] phase,
            float[] b, float[] c, float[] d) {}

    /** The derived parameters ({@link Params}). */
    public Params params() {
        return new Params(n, h, lambdaRe.clone(), lambdaIm.clone(), lambdaLogMod.clone(), lambdaPhase.clone(),
                b.weight(), c.weight(), d.clone());
    }

    /** |lambda_i|, for tests and inspection. */
    public double lambdaModulus(int i) {
        return Math.hypot(lambdaRe[i], lambdaIm[i]);
    }

    @Override
    public int stateSize() {
        return 2 * n;
    }

    @Override
    public int outputDim() {
        return h;
    }

    @Override
    public long parameters() {
        return 3L * n + 4L * n * h + h;
    }

    /** Rows of {@code gamma * B a}, then of the states {@code h}, as re[N], im[N]. */
    private static final class LruScratch implements Scratch {
        float[][] u = new float[0][];
    }

    @Override
    public Scratch newScratch() {
        return new LruScratch();
    }

    /**
     * The input product of every row at once, the recurrence key by key (a run of one event as
     * the step, a longer run as the chunked parallel scan, {@link #scan}), then the output
     * product of every row at once.
     */
    @Override
    public void forward(Runs runs, int off, float[][] a, float[][] m, Scratch scratch, Parallel par) {
        LruScratch s = (LruScratch) scratch;
        int rows = runs.rows();
        float[][] u = s.u = Rows.atLeast(s.u, rows, 2 * n);
        if (par.serial(rows, ROWS_PER_TASK)) {
            b.applyRows(a, u, 0, rows);
        } else {
            par.range(rows, ROWS_PER_TASK, (from, to) -> b.applyRows(a, u, from, to));
        }
        for (int k = 0; k < runs.keys(); k++) {
            int from = runs.start(k);
            float[] state = runs.state(k);
            if (runs.length(k) == 1) {
                recur(state, off, u[from]);
            } else {
                scan(state, off, u, from, runs.end(k), par);
            }
        }
        if (par.serial(rows, ROWS_PER_TASK)) {
            output(a, u, m, 0, rows);
        } else {
            par.range(rows, ROWS_PER_TASK, (from, to) -> output(a, u, m, from, to));
        }
    }

    /** Rows {@code [from, to)}: {@code m = Re(C h) + D a}. */
    private void output(float[][] a, float[][] hs, float[][] m, int from, int to) {
        c.applyRows(hs, m, from, to);
        for (int t = from; t < to; t++) {
            addSkip(a[t], m[t]);
        }
    }

    /**
     * {@code h = lambda * h + u}, with u = gamma * B a as re[N], im[N]: into the state, and into u
     * for the output product (one pass, not a second copy).
     */
    private void recur(float[] state, int off, float[] u) {
        int im = off + n;
        for (int i = 0; i < n; i++) {
            double hr = state[off + i];
            double hi = state[im + i];
            float re = (float) (lambdaRe[i] * hr - lambdaIm[i] * hi + u[i]);
            float ii = (float) (lambdaRe[i] * hi + lambdaIm[i] * hr + u[n + i]);
            state[off + i] = re;
            state[im + i] = ii;
            u[i] = re;
            u[n + i] = ii;
        }
    }

    private void addSkip(float[] a, float[] m) {
        for (int o = 0; o < h; o++) {
            m[o] += d[o] * a[o];
        }
    }

    /** Events per task of the batched projections. */
    private static final int ROWS_PER_TASK = 64;
    /** Shortest chunk of the parallel scan. */
    private static final int MIN_CHUNK = 256;

    /**
     * The linear recurrence {@code h_t = lambda h_{t-1} + u_t} over a run of events, rows
     * {@code [first, end)}, in place: row {@code u[t]} (re then im) becomes {@code h_t}, and the
     * state slice becomes the last.
     *
     * <p>Time is cut into chunks. Each chunk is scanned from zero in parallel; then, in order,
     * each chunk's true starting state is carried forward, {@code start_{k+1} = lambda^L_k
     * start_k + end_k} (lambda^L in closed form); then each chunk adds {@code lambda^(i+1)
     * start_k} to its i-th row, in parallel. Arithmetic is in double, as in {@link #step}.
     */
    void scan(float[] state, int off, float[][] u, int first, int end, Parallel par) {
        int length = end - first;
        int chunks = par.threads() == 1 ? 1 : (int) Math.min(par.threads() * 4L, Math.max(1, length / MIN_CHUNK));
        int[] bounds = new int[chunks + 1];
        for (int k = 0; k <= chunks; k++) {
            bounds[k] = first + (int) ((long) length * k / chunks);
        }
        double[][] endRe = new double[chunks][n];
        double[][] endIm = new double[chunks][n];
        par.range(chunks, 1, (from, to) -> {
            for (int k = from; k < to; k++) {
                localScan(u, bounds[k], bounds[k + 1], endRe[k], endIm[k]);
            }
        });
        double[][] startRe = new double[chunks + 1][n];
        double[][] startIm = new double[chunks + 1][n];
        for (int i = 0; i < n; i++) {
            startRe[0][i] = state[off + i];
            startIm[0][i] = state[off + n + i];
        }
        for (int k = 0; k < chunks; k++) {
            int len = bounds[k + 1] - bounds[k];
            for (int i = 0; i < n; i++) {
                double mod = Math.exp(len * lambdaLogMod[i]);
                double pr = mod * Math.cos(len * lambdaPhase[i]);
                double pi = mod * Math.sin(len * lambdaPhase[i]);
                double sr = startRe[k][i];
                double si = startIm[k][i];
                startRe[k + 1][i] = pr * sr - pi * si + endRe[k][i];
                startIm[k + 1][i] = pr * si + pi * sr + endIm[k][i];
            }
        }
        par.range(chunks, 1, (from, to) -> {
            for (int k = from; k < to; k++) {
                addCarry(u, bounds[k], bounds[k + 1], startRe[k], startIm[k]);
            }
        });
        for (int i = 0; i < n; i++) {
            state[off + i] = (float) startRe[chunks][i];
            state[off + n + i] = (float) startIm[chunks][i];
        }
    }

    /** Scans rows {@code [from, to)} from a zero state; leaves the chunk's last state in {@code endRe/endIm}. */
    private void localScan(float[][] u, int from, int to, double[] endRe, double[] endIm) {
        for (int t = from; t < to; t++) {
            float[] row = u[t];
            for (int i = 0; i < n; i++) {
                double hr = lambdaRe[i] * endRe[i] - lambdaIm[i] * endIm[i] + row[i];
                double hi = lambdaRe[i] * endIm[i] + lambdaIm[i] * endRe[i] + row[n + i];
                endRe[i] = hr;
                endIm[i] = hi;
                row[i] = (float) hr;
                row[n + i] = (float) hi;
            }
        }
    }

    /** Adds {@code lambda^(t-from+1) * start} to rows {@code [from, to)}. */
    private void addCarry(float[][] u, int from, int to, double[] startRe, double[] startIm) {
        double[] pr = lambdaRe.clone();
        double[] pi = lambdaIm.clone();
        for (int t = from; t < to; t++) {
            float[] row = u[t];
            for (int i = 0; i < n; i++) {
                double r = pr[i];
                double q = pi[i];
                row[i] += (float) (r * startRe[i] - q * startIm[i]);
                row[n + i] += (float) (r * startIm[i] + q * startRe[i]);
                pr[i] = r * lambdaRe[i] - q * lambdaIm[i];
                pi[i] = r * lambdaIm[i] + q * lambdaRe[i];
            }
        }
    }
}
