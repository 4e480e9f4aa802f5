package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Gelu;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Vec;
import io.lseq.core.mixer.Mixer;
import io.lseq.core.mixer.Mixers;

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

    /** Per-thread buffers for {@link #step}. */
    final class Scratch {
        final float[] a = new float[h];
        final float[] m = new float[mixer.outputDim()];
        final float[] p1 = new float[h];
        final float[] p2 = new float[h];
        final float[] hidden = new float[fc1 == null ? 0 : fc1.out()];
        final float[] mix = new float[mixer.scratchSize()];
        final float[] g = new float[geluWidth()];
    }

    /** Floats of scratch {@link Gelu#apply} needs here: the widest row it runs over. */
    private int geluWidth() {
        return Math.max(mixer.outputDim(), fc1 == null ? 0 : fc1.out());
    }

    Scratch newScratch() {
        return new Scratch();
    }

    /** Advances {@code x} (width H) through this block in place, updating the key's state. */
    void step(float[] x, float[] state, long pos, Scratch s) {
        norm.apply(x, 0, s.a, 0);
        mixer.step(state, stateOffset, pos, s.a, s.m, s.mix);
        if (out1 != null) {
            gelu.apply(s.m, 0, s.m.length, s.g);
            out1.apply(s.m, 0, s.p1, 0);
            out2.apply(s.m, 0, s.p2, 0);
            glu(x, s.p1, s.p2);
        } else {
            add(x, s.m);
        }
        if (fc1 != null) {
            mlpNorm.apply(x, 0, s.a, 0);
            fc1.apply(s.a, 0, s.hidden, 0);
            gelu.apply(s.hidden, 0, s.hidden.length, s.g);
            fc2.apply(s.hidden, 0, s.p1, 0);
            add(x, s.p1);
        }
    }

    /** Buffers for {@link #stepKeys}: one row per key, for up to {@code capacity} keys. */
    final class KeyRows {
        final float[][] a;
        final float[][] m;
        final float[][] p1;
        final float[][] p2;
        final float[][] hidden;
        final float[][] r1;
        final float[][] r2;
        final float[] mix = new float[mixer.scratchSize()];
        final float[] g = new float[geluWidth()];

        KeyRows(int capacity) {
            a = new float[capacity][h];
            m = new float[capacity][mixer.outputDim()];
            p1 = new float[capacity][h];
            p2 = new float[capacity][h];
            hidden = new float[capacity][fc1 == null ? 0 : fc1.out()];
            r1 = new float[capacity][mixer.keyRowWidth()];
            r2 = new float[capacity][mixer.keyRowWidth()];
        }
    }

    /**
     * Advances {@code count} different keys by one event each: row {@code x[i]} (width H) in
     * place, key i's state {@code states[i]} at position {@code pos[i]}. The products run over
     * the keys together ({@link Linear#applyRows}), which reads each weight once per four keys.
     */
    void stepKeys(float[][] x, float[][] states, long[] pos, int count, KeyRows s) {
        for (int k = 0; k < count; k++) {
            norm.apply(x[k], 0, s.a[k], 0);
        }
        mixer.stepKeys(states, stateOffset, pos, s.a, s.m, count, s.r1, s.r2, s.mix);
        if (out1 != null) {
            for (int k = 0; k < count; k++) {
                gelu.apply(s.m[k], 0, s.m[k].length, s.g);
            }
            out1.applyRows(s.m, s.p1, 0, count);
            out2.applyRows(s.m, s.p2, 0, count);
            for (int k = 0; k < count; k++) {
                glu(x[k], s.p1[k], s.p2[k]);
            }
        } else {
            for (int k = 0; k < count; k++) {
                add(x[k], s.m[k]);
            }
        }
        if (fc1 != null) {
            for (int k = 0; k < count; k++) {
                mlpNorm.apply(x[k], 0, s.a[k], 0);
            }
            fc1.applyRows(s.a, s.hidden, 0, count);
            for (int k = 0; k < count; k++) {
                gelu.apply(s.hidden[k], 0, s.hidden[k].length, s.g);
            }
            fc2.applyRows(s.hidden, s.p1, 0, count);
            for (int k = 0; k < count; k++) {
                add(x[k], s.p1[k]);
            }
        }
    }

    /** {@code x += p1 * sigmoid(p2)}; p2 is scratch. */
    private void glu(float[] x, float[] p1, float[] p2) {
        Vec.glu(x, p1, p2, h);
    }

    /** {@code x += p}. */
    private void add(float[] x, float[] p) {
        for (int i = 0; i < h; i++) {
            x[i] += p[i];
        }
    }

    /**
     * The batch path: advances rows {@code x[0..length)} (one per event, width H) through this
     * block in place, row-parallel where rows are independent; the mixer decides how its
     * recurrence runs ({@link Mixer#sequence}).
     */
    void sequence(float[][] x, float[] state, long pos0, int length, Parallel par) {
        float[][] a = new float[length][h];
        par.range(length, ROWS, (from, to) -> normRows(x, a, from, to));
        float[][] mix = new float[length][mixer.outputDim()];
        mixer.sequence(state, stateOffset, pos0, a, mix, length, par);
        par.range(length, ROWS, (from, to) -> postRows(x, mix, from, to));
    }

    /**
     * The batch path for {@code count} keys on the calling thread: key k's rows are
     * {@code x[start[k] .. start[k+1])}; the norms and products run over every row at once, the
     * mixer over the keys together ({@link Mixer#sequenceKeys}).
     */
    void sequenceKeys(float[][] x, float[][] states, long[] pos0, int[] start, int count) {
        int rows = start[count];
        float[][] a = new float[rows][h];
        normRows(x, a, 0, rows);
        float[][] mix = new float[rows][mixer.outputDim()];
        mixer.sequenceKeys(states, stateOffset, pos0, a, mix, start, count);
        postRows(x, mix, 0, rows);
    }

    private void normRows(float[][] x, float[][] a, int from, int to) {
        for (int t = from; t < to; t++) {
            norm.apply(x[t], 0, a[t], 0);
        }
    }

    /** Rows {@code [from, to)}: {@code x += post(mix)}, then the MLP; rows are independent here. */
    private void postRows(float[][] x, float[][] mix, int from, int to) {
        int m = mixer.outputDim();
        float[] geluScratch = new float[geluWidth()];
        if (out1 != null) {
            float[][] p1 = new float[to - from][h];
            float[][] p2 = new float[to - from][h];
            for (int t = from; t < to; t++) {
                gelu.apply(mix[t], 0, m, geluScratch);
            }
            float[][] g = java.util.Arrays.copyOfRange(mix, from, to);
            out1.applyRows(g, p1, 0, to - from);
            out2.applyRows(g, p2, 0, to - from);
            for (int t = from; t < to; t++) {
                glu(x[t], p1[t - from], p2[t - from]);
            }
        } else {
            for (int t = from; t < to; t++) {
                add(x[t], mix[t]);
            }
        }
        if (fc1 != null) {
            float[][] an = new float[to - from][h];
            float[][] hid = new float[to - from][fc1.out()];
            float[][] p = new float[to - from][h];
            for (int t = from; t < to; t++) {
                mlpNorm.apply(x[t], 0, an[t - from], 0);
            }
            fc1.applyRows(an, hid, 0, to - from);
            for (float[] row : hid) {
                gelu.apply(row, 0, row.length, geluScratch);
            }
            fc2.applyRows(hid, p, 0, to - from);
            for (int t = from; t < to; t++) {
                add(x[t], p[t - from]);
            }
        }
    }

    /** Events per task of the row-parallel parts. */
    static final int ROWS = 64;
}
