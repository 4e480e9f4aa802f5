package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Gelu;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;
import io.lseq.core.math.Vec;
import io.lseq.core.mixer.Mixer;
import io.lseq.core.mixer.Mixers;
import io.lseq.core.mixer.Runs;

/**
 * One residual block, the same for every mixer:
 * <pre>
 * a  = norm(x);  m = mixer(a)
 * x1 = x + (post == glu ? out1(gelu(m)) * sigmoid(out2(gelu(m))) : m)
 * x' = mlp ? x1 + fc2(gelu(fc1(mlp_norm(x1)))) : x1
 * </pre>
 */
final class Block {
    private final int h;
    private final Norm norm;
    private final Mixer mixer;
    private final Gelu gelu;
    private final Linear out1;
    private final Linear out2;
    private final Norm mlpNorm;
    private final Linear fc1;
    private final Linear fc2;
    /** Where this block's mixer state starts in the key's state. */
    final int stateOffset;

    Block(ModelConfig cfg, int index, Weights w, int stateOffset) {
        ModelConfig.Block b = cfg.blocks().get(index);
        String p = "blocks." + index + ".";
        h = cfg.dModel();
        gelu = cfg.gelu();
        this.stateOffset = stateOffset;
        norm = Norms.take(w, p + "norm", cfg);
        mixer = Mixers.create(b.mixer(), w, p + "mixer.", h);
        int m = mixer.outputDim();
        if (b.post() == ModelConfig.Post.GLU) {
            out1 = new Linear(h, m, w.take(p + "out1.weight", h, m), w.take(p + "out1.bias", h));
            out2 = new Linear(h, m, w.take(p + "out2.weight", h, m), w.take(p + "out2.bias", h));
        } else {
            out1 = null;
            out2 = null;
        }
        if (b.mlpHidden() > 0) {
            int m2 = b.mlpHidden();
            mlpNorm = Norms.take(w, p + "mlp_norm", cfg);
            fc1 = new Linear(m2, h, w.take(p + "mlp.fc1.weight", m2, h), w.take(p + "mlp.fc1.bias", m2));
            fc2 = new Linear(h, m2, w.take(p + "mlp.fc2.weight", h, m2), w.take(p + "mlp.fc2.bias", h));
        } else {
            mlpNorm = null;
            fc1 = null;
            fc2 = null;
        }
    }

    Mixer mixer() {
        return mixer;
    }

    /** This block's parts, for {@link Model#blockParts()}. */
    Model.BlockParts parts() {
        return new Model.BlockParts(stateOffset, norm, mixer, out1, out2, mlpNorm, fc1, fc2);
    }

    int stateSize() {
        return mixer.stateSize();
    }

    long parameters() {
        long n = norm.parameters() + mixer.parameters();
        if (out1 != null) {
            n += out1.parameters() + out2.parameters();
        }
        if (fc1 != null) {
            n += mlpNorm.parameters() + fc1.parameters() + fc2.parameters();
        }
        return n;
    }

    /** One thread's buffers for {@link #forward}: rows grown to the largest batch seen. */
    final class Scratch {
        float[][] a = new float[0][];
        float[][] m = new float[0][];
        float[][] p1 = new float[0][];
        float[][] p2 = new float[0][];
        float[][] hidden = new float[0][];
        final float[] g = new float[geluWidth()];
        final Mixer.Scratch mix = mixer.newScratch();

        void rows(int n) {
            a = Rows.atLeast(a, n, h);
            m = Rows.atLeast(m, n, mixer.outputDim());
            p1 = Rows.atLeast(p1, n, h);
            p2 = Rows.atLeast(p2, n, h);
            hidden = Rows.atLeast(hidden, n, fc1 == null ? 0 : fc1.out());
        }
    }

    /** Floats of scratch {@link Gelu#apply} needs here: the widest row it runs over. */
    private int geluWidth() {
        return Math.max(mixer.outputDim(), fc1 == null ? 0 : fc1.out());
    }

    Scratch newScratch() {
        return new Scratch();
    }

    /**
     * Advances the rows {@code x} (one per event, width H) through this block in place, updating
     * the keys' states: norms, products and the MLP over all rows at once, parallel over rows
     * with {@code par}; the mixer runs the keys' recurrences ({@link Mixer#forward}).
     */
    void forward(Runs runs, float[][] x, Scratch s, Parallel par) {
        int rows = runs.rows();
        s.rows(rows);
        if (par.serial(rows, ROWS)) {
            normRows(x, s.a, 0, rows);
        } else {
            par.range(rows, ROWS, (from, to) -> normRows(x, s.a, from, to));
        }
        mixer.forward(runs, stateOffset, s.a, s.m, s.mix, par);
        if (par.serial(rows, ROWS)) {
            postRows(x, s, 0, rows, s.g);
        } else {
            par.range(rows, ROWS, (from, to) -> postRows(x, s, from, to, new float[geluWidth()]));
        }
    }

    private void normRows(float[][] x, float[][] a, int from, int to) {
        norm.applyRows(x, a, from, to);
    }

    /**
     * Rows {@code [from, to)}: {@code x += post(m)}, then the MLP; rows are independent here.
     *
     * @param g GELU's scratch, one per thread
     */
    private void postRows(float[][] x, Scratch s, int from, int to, float[] g) {
        float[][] m = s.m;
        if (out1 != null) {
            for (int t = from; t < to; t++) {
                gelu.apply(m[t], 0, mixer.outputDim(), g);
            }
            out1.applyRows(m, s.p1, from, to);
            out2.applyRows(m, s.p2, from, to);
            for (int t = from; t < to; t++) {
                Vec.glu(x[t], s.p1[t], s.p2[t], h);
            }
        } else {
            for (int t = from; t < to; t++) {
                add(x[t], m[t]);
            }
        }
        if (fc1 != null) {
            mlpNorm.applyRows(x, s.a, from, to);
            fc1.applyRows(s.a, s.hidden, from, to);
            for (int t = from; t < to; t++) {
                gelu.apply(s.hidden[t], 0, fc1.out(), g);
            }
            fc2.applyRows(s.hidden, s.p1, from, to);
            for (int t = from; t < to; t++) {
                add(x[t], s.p1[t]);
            }
        }
    }

    /** {@code x += p}. */
    private void add(float[] x, float[] p) {
        for (int i = 0; i < h; i++) {
            x[i] += p[i];
        }
    }

    /** Events per task of the row-parallel parts. */
    static final int ROWS = 64;
}
