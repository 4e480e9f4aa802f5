package io.lseq.core.mixer;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Activation;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;

/**
 * Gated attention unit (GAU-alpha), single head:
 * {@code [u, v, z] = silu(i_dense(a))}, {@code q = z * q_scale + q_offset},
 * {@code k = z * k_scale + k_offset}, {@code m = o_dense(u * attention(q, k, v))}.
 * State: the {@link WindowCache} ring of the last W keys (width S) and values (width E).
 */
public final class GauMixer implements Mixer {
    private final int h;
    private final int e;
    private final int s;
    private final Linear in;
    private final Linear out;
    private final float[] qScale;
    private final float[] qOffset;
    private final float[] kScale;
    private final float[] kOffset;
    private final WindowCache cache;

    /** Takes the {@code prefix} tensors from {@code w}. */
    public GauMixer(Weights w, String prefix, int h, ModelConfig.Gau cfg) {
        this.h = h;
        this.e = cfg.expansion() * h;
        this.s = cfg.keySize();
        int width = 2 * e + s;
        in = new Linear(width, h, w.take(prefix + "i_dense.weight", width, h), w.take(prefix + "i_dense.bias", width));
        qScale = w.take(prefix + "q_scale", s);
        qOffset = w.take(prefix + "q_offset", s);
        kScale = w.take(prefix + "k_scale", s);
        kOffset = w.take(prefix + "k_offset", s);
        out = new Linear(h, e, w.take(prefix + "o_dense.weight", h, e), w.take(prefix + "o_dense.bias", h));
        cache = new WindowCache(1, s, e, cfg.window(), cfg.ropeTheta(), cfg.lognBase(), cfg.sinks());
    }

    @Override
    public int stateSize() {
        return cache.stateSize();
    }

    @Override
    public int outputDim() {
        return h;
    }

    @Override
    public long parameters() {
        return in.parameters() + out.parameters() + 4L * s;
    }

    /** Rows of {@code [u | v | z | q | k]} and of the attention's output; the window's working memory. */
    private final class GauScratch implements Scratch {
        float[][] rows = new float[0][];
        float[][] att = new float[0][];
        final float[] window = new float[cache.scratchSize()];
    }

    @Override
    public Scratch newScratch() {
        return new GauScratch();
    }

    /**
     * {@code i_dense} of every row as one product and its SiLU, q and k from z; the window's
     * attention key by key; then the gate by u and {@code o_dense} over the rows.
     */
    @Override
    public void forward(Runs runs, int off, float[][] a, float[][] m, Scratch scratch, Parallel par) {
        GauScratch ws = (GauScratch) scratch;
        int n = runs.rows();
        int width = 2 * e + s;
        float[][] rows = ws.rows = Rows.atLeast(ws.rows, n, width + 2 * s);
        float[][] att = ws.att = Rows.atLeast(ws.att, n, e);
        if (par.serial(n, ROWS_PER_TASK)) {
            input(a, rows, 0, n);
        } else {
            par.range(n, ROWS_PER_TASK, (from, to) -> input(a, rows, from, to));
        }
        cache.attendRuns(runs, off, rows, width, rows, width + s, rows, e, att, 0, ws.window, par);
        if (par.serial(n, ROWS_PER_TASK)) {
            output(rows, att, m, 0, n);
        } else {
            par.range(n, ROWS_PER_TASK, (from, to) -> output(rows, att, m, from, to));
        }
    }

    /** Rows {@code [from, to)}: {@code [u | v | z] = silu(i_dense a)}, then q and k from z. */
    private void input(float[][] a, float[][] rows, int from, int to) {
        int width = 2 * e + s;
        in.applyRows(a, rows, from, to);
        for (int t = from; t < to; t++) {
            float[] r = rows[t];
            for (int i = 0; i < width; i++) {
                r[i] = Activation.silu(r[i]);
            }
            for (int i = 0; i < s; i++) {
                float zi = r[2 * e + i];
                r[width + i] = zi * qScale[i] + qOffset[i];
                r[width + s + i] = zi * kScale[i] + kOffset[i];
            }
        }
    }

    /** Rows {@code [from, to)}: {@code m = o_dense(u * att)}. */
    private void output(float[][] rows, float[][] att, float[][] m, int from, int to) {
        for (int t = from; t < to; t++) {
            for (int i = 0; i < e; i++) {
                att[t][i] *= rows[t][i];
            }
        }
        out.applyRows(att, m, from, to);
    }

    /** Events per task of the batched products. */
    private static final int ROWS_PER_TASK = 64;
}
