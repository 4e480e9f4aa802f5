package io.lseq.core.mixer;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;

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
    public int scratchSize() {
        return 4 * h + cache.scratchSize();
    }

    @Override
    public long parameters() {
        return q.parameters() + k.parameters() + v.parameters() + o.parameters();
    }

    @Override
    public void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        int qs = 0;
        int ks = h;
        int vs = 2 * h;
        int outs = 3 * h;
        q.apply(a, 0, scratch, qs);
        k.apply(a, 0, scratch, ks);
        v.apply(a, 0, scratch, vs);
        cache.attend(state, off, pos, scratch, qs, scratch, ks, scratch, vs, scratch, outs, scratch, 4 * h);
        o.apply(scratch, outs, m, 0);
    }

    /**
     * The batch path: q, k, v of every event as products over the rows, then the window's
     * attention with the queries in parallel ({@link WindowCache#attendRun}), then o over the rows.
     */
    @Override
    public void sequence(float[] state, int off, long pos0, float[][] a, float[][] m, int length, Parallel par) {
        float[][] qs = new float[length][h];
        float[][] ks = new float[length][h];
        float[][] vs = new float[length][h];
        par.range(length, ROWS_PER_TASK, (from, to) -> {
            q.applyRows(a, qs, from, to);
            k.applyRows(a, ks, from, to);
            v.applyRows(a, vs, from, to);
        });
        float[][] att = new float[length][h];
        for (int t0 = 0; t0 < length; t0 += WindowCache.RUN_CHUNK) {
            int t1 = Math.min(length, t0 + WindowCache.RUN_CHUNK);
            cache.attendRun(state, off, pos0 + t0, qs, 0, ks, 0, vs, 0, att, 0, t0, t1, par);
        }
        par.range(length, ROWS_PER_TASK, (from, to) -> o.applyRows(att, m, from, to));
    }

    /** Events per task of the batched products. */
    private static final int ROWS_PER_TASK = 64;
}
