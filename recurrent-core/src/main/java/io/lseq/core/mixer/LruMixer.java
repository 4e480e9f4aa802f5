package io.lseq.core.mixer;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;

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
        float[] bStacked = new float[2 * n * h];
        for (int i = 0; i < n; i++) {
            // exp(-exp(nu)) rounds to exactly 1 once exp(nu) < 1.1e-16. Capping at 1 - 2^-40 keeps
            // |lambda| < 1 through the cos/sin rounding too, and differs from the exact value only
            // after ~10^12 events.
            double mod = Math.min(Math.exp(-Math.exp(nuLog[i])), MAX_MODULUS);
            double phase = Math.exp(thetaLog[i]);
            float gamma = (float) Math.exp(gammaLog[i]);
            if (Double.isInfinite(phase) || Float.isInfinite(gamma)) {
                throw new ModelFormatException(w.file(), "tensor " + prefix + (Float.isInfinite(gamma) ? "gamma_log" : "theta_log")
                        + "[" + i + "] = " + (Float.isInfinite(gamma) ? gammaLog[i] : thetaLog[i]) + " overflows exp()");
            }
            lambdaRe[i] = mod * Math.cos(phase);
            lambdaIm[i] = mod * Math.sin(phase);
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
    public int scratchSize() {
        return 2 * n;
    }

    @Override
    public long parameters() {
        return 3L * n + 4L * n * h + h;
    }

    @Override
    public void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        b.apply(a, 0, scratch, 0); // scratch: re[N], im[N] of gamma * B a
        int im = off + n;
        for (int i = 0; i < n; i++) {
            double hr = state[off + i];
            double hi = state[im + i];
            state[off + i] = (float) (lambdaRe[i] * hr - lambdaIm[i] * hi + scratch[i]);
            state[im + i] = (float) (lambdaRe[i] * hi + lambdaIm[i] * hr + scratch[n + i]);
        }
        c.apply(state, off, m, 0);
        for (int o = 0; o < h; o++) {
            m[o] += d[o] * a[o];
        }
    }
}
