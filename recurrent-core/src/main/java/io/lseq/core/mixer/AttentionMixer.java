package io.lseq.core.mixer;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;

/**
 * Causal windowed multi-head attention with RoPE and optional log-n scaling. Projections
 * {@code q, k, v, o} are {@code [H, H]} with optional biases (all four or none); head j uses rows
 * {@code j*d .. j*d+d-1}. State: the {@link WindowCache} ring of the last W keys and values.
 */
public final class AttentionMixer implements Mixer {
    private final int h;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear o;
    private final WindowCache cache;

    /** Takes the {@code prefix} tensors from {@code w}. */
    public AttentionMixer(Weights w, String prefix, int h, ModelConfig.Attention cfg) {
        this.h = h;
        String[] names = {"q", "k", "v", "o"};
        int biases = 0;
        for (String p : names) {
            biases += w.has(prefix + p + ".bias") ? 1 : 0;
        }
        if (biases != 0 && biases != 4) {
            throw new ModelFormatException(w.file(), prefix + "{q,k,v,o}.bias: attention biases must be all four or none, found "
                    + biases);
        }
        q = linear(w, prefix + "q", h);
        k = linear(w, prefix + "k", h);
        v = linear(w, prefix + "v", h);
        o = linear(w, prefix + "o", h);
        int d = h / cfg.heads();
        cache = new WindowCache(cfg.heads(), d, d, cfg.window(), cfg.ropeTheta(), cfg.lognBase(), cfg.sinks());
    }

    private static Linear linear(Weights w, String name, int h) {
        return new Linear(h, h, w.take(name + ".weight", h, h), w.takeOptional(name + ".bias", h));
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
        return q.parameters() + k.parameters() + v.parameters() + o.parameters();
    }

    /** Rows of q, k, v and the attention's output; the window's working memory. */
    private final class AttentionScratch implements Scratch {
        float[][] q = new float[0][];
        float[][] k = new float[0][];
        float[][] v = new float[0][];
        float[][] att = new float[0][];
        final float[] window = new float[cache.scratchSize()];
    }

    @Override
    public Scratch newScratch() {
        return new AttentionScratch();
    }

    /** q, k, v of every row as products, the window's attention key by key, then o over the rows. */
    @Override
    public void forward(Runs runs, int off, float[][] a, float[][] m, Scratch scratch, Parallel par) {
        AttentionScratch s = (AttentionScratch) scratch;
        int rows = runs.rows();
        float[][] qs = s.q = Rows.atLeast(s.q, rows, h);
        float[][] ks = s.k = Rows.atLeast(s.k, rows, h);
        float[][] vs = s.v = Rows.atLeast(s.v, rows, h);
        float[][] att = s.att = Rows.atLeast(s.att, rows, h);
        if (par.serial(rows, ROWS_PER_TASK)) {
            qkv(a, qs, ks, vs, 0, rows);
        } else {
            par.range(rows, ROWS_PER_TASK, (from, to) -> qkv(a, qs, ks, vs, from, to));
        }
        cache.attendRuns(runs, off, qs, 0, ks, 0, vs, 0, att, 0, s.window, par);
        if (par.serial(rows, ROWS_PER_TASK)) {
            o.applyRows(att, m, 0, rows);
        } else {
            par.range(rows, ROWS_PER_TASK, (from, to) -> o.applyRows(att, m, from, to));
        }
    }

    private void qkv(float[][] a, float[][] qs, float[][] ks, float[][] vs, int from, int to) {
        q.applyRows(a, qs, from, to);
        k.applyRows(a, ks, from, to);
        v.applyRows(a, vs, from, to);
    }

    /** Events per task of the batched products. */
    private static final int ROWS_PER_TASK = 64;
}
