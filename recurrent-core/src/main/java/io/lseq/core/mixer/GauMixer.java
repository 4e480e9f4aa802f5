package io.lseq.core.mixer;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Activation;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;

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
    public int scratchSize() {
        // [u | v | z] from i_dense, then q and k, then the attention output, then the cache's own.
        return 2 * e + s + 2 * s + e + cache.scratchSize();
    }

    @Override
    public long parameters() {
        return in.parameters() + out.parameters() + 4L * s;
    }

    @Override
    public void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        int u = 0;
        int v = e;
        int z = 2 * e;
        int q = z + s;
        int k = q + s;
        int att = k + s;
        in.apply(a, 0, scratch, 0);
        for (int i = 0; i < 2 * e + s; i++) {
            scratch[i] = Activation.silu(scratch[i]);
        }
        for (int i = 0; i < s; i++) {
            float zi = scratch[z + i];
            scratch[q + i] = zi * qScale[i] + qOffset[i];
            scratch[k + i] = zi * kScale[i] + kOffset[i];
        }
        cache.attend(state, off, pos, scratch, q, scratch, k, scratch, v, scratch, att, scratch, att + e);
        for (int i = 0; i < e; i++) {
            scratch[att + i] *= scratch[u + i];
        }
        out.apply(scratch, att, m, 0);
    }

    /**
     * The batch path: {@code i_dense} of every event as one product over the rows, then the
     * window's attention with the queries in parallel ({@link WindowCache#attendRun}), then
     * {@code o_dense} over the rows.
     */
    @Override
    public void sequence(float[] state, int off, long pos0, float[][] a, float[][] m, int length, Parallel par) {
        int width = 2 * e + s;
        float[][] rows = new float[length][width + 2 * s];
        float[][] att = new float[length][e];
        par.range(length, ROWS_PER_TASK, (from, to) -> {
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
        });
        for (int t0 = 0; t0 < length; t0 += WindowCache.RUN_CHUNK) {
            int t1 = Math.min(length, t0 + WindowCache.RUN_CHUNK);
            cache.attendRun(state, off, pos0 + t0, rows, width, rows, width + s, rows, e, att, 0, t0, t1, par);
        }
        par.range(length, ROWS_PER_TASK, (from, to) -> {
            for (int t = from; t < to; t++) {
                for (int i = 0; i < e; i++) {
                    att[t][i] *= rows[t][i];
                }
            }
            out.applyRows(att, m, from, to);
        });
    }

    /** Events per task of the batched products. */
    private static final int ROWS_PER_TASK = 64;
}
