package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.math.Vec;

/**
 * What a model emits per event, from {@code head(final_norm(y))}.
 *
 * <p>{@code next_token} and {@code regression} score event t with the prediction made after
 * event t-1, so they keep {@code y_{t-1}} (width H) in the key's state and emit <em>before</em>
 * the blocks step; a fresh state holds zeros, which gives {@code head(final_norm(0))}.
 * {@code classes} emits after the step and keeps nothing.
 */
abstract class Head {
    final int h;
    final Norm finalNorm;
    final Linear proj;

    Head(ModelConfig cfg, Weights w, Linear proj) {
        this.h = cfg.dModel();
        this.finalNorm = Norms.take(w, "final_norm", cfg);
        this.proj = proj;
    }

    static Head create(ModelConfig cfg, Weights w, InputLayer input) {
        int h = cfg.dModel();
        ModelConfig.Head hc = cfg.head();
        switch (hc.type()) {
            case NEXT_TOKEN: {
                int v = cfg.input().vocabSize();
                float[] weight = hc.tieEmbeddings() ? input.embedding() : w.take("head.weight", v, h);
                Linear proj = new Linear(v, h, weight, w.takeOptional("head.bias", v));
                return new NextToken(cfg, w, proj, hc.tieEmbeddings());
            }
            case CLASSES: {
                int k = hc.numClasses();
                return new Classes(cfg, w, new Linear(k, h, w.take("head.weight", k, h), w.take("head.bias", k)));
            }
            case REGRESSION: {
                int f = hc.dim();
                return new Regression(cfg, w, new Linear(f, h, w.take("head.weight", f, h), w.take("head.bias", f)));
            }
            default:
                throw new AssertionError(hc.type());
        }
    }

    /** Floats of per-key state. */
    abstract int stateSize();

    /** Floats emitted per event: 1 (a score) or K (probabilities). */
    abstract int outputSize();

    /** Parameters this head owns (a tied embedding is not counted twice). */
    long parameters() {
        return finalNorm.parameters() + proj.parameters();
    }

    int scratchSize() {
        return h + proj.out();
    }

    /** Emits what is due before the step, reading the state slice at {@code off}. */
    abstract void before(float[] state, int off, int token, float[] features, float[] out, float[] scratch);

    /** Emits or stores what is due after the step; {@code y} is the last block's output. */
    abstract void after(float[] y, float[] state, int off, float[] out, float[] scratch);

    /**
     * The head's output from {@code y[yOff..yOff+H)} into {@code out[outOff..)}: for predictive
     * heads the score of the event ({@code token} or {@code features}) under the prediction made
     * from y; for classes the probabilities.
     */
    final void emit(float[] y, int yOff, int token, float[] features, float[] out, int outOff, float[] scratch) {
        int p = project(y, yOff, scratch);
        score(scratch, p, token, features, out, outOff);
    }

    /**
     * {@link #emit} for {@code count} keys at once, the projection as one product: key i's y at
     * {@code ys[i][yOff..)}, its output into {@code outs[i]}.
     *
     * @param normed {@code count} rows of width H, scratch
     * @param projected {@code count} rows of width {@code proj.out()}, scratch
     */
    final void emitRows(float[][] ys, int yOff, int[] tokens, float[][] features, float[][] outs, int count,
            float[][] normed, float[][] projected) {
        for (int k = 0; k < count; k++) {
            finalNorm.apply(ys[k], yOff, normed[k], 0);
        }
        proj.applyRows(normed, projected, 0, count);
        for (int k = 0; k < count; k++) {
            score(projected[k], 0, tokens == null ? 0 : tokens[k], features == null ? null : features[k], outs[k], 0);
        }
    }

    /** Rows per product of {@link #emitRun}: enough to share weight loads, few enough to stay in cache. */
    static final int RUN_ROWS = 32;

    /**
     * {@link #emit} for a run of one key's events, the projection as products over up to
     * {@link #RUN_ROWS} rows: event i reads {@code ys[i]}, its token or features at index i, and
     * writes {@code out[outOff + i * outputSize() ..]}.
     */
    final void emitRun(float[][] ys, int[] tokens, float[][] features, float[] out, int outOff, int count) {
        int rows = Math.min(count, RUN_ROWS);
        float[][] normed = new float[rows][h];
        float[][] projected = new float[rows][proj.out()];
        int width = outputSize();
        for (int r0 = 0; r0 < count; r0 += RUN_ROWS) {
            int n = Math.min(RUN_ROWS, count - r0);
            for (int i = 0; i < n; i++) {
                finalNorm.apply(ys[r0 + i], 0, normed[i], 0);
            }
            proj.applyRows(normed, projected, 0, n);
            for (int i = 0; i < n; i++) {
                int e = r0 + i;
                score(projected[i], 0, tokens == null ? 0 : tokens[e], features == null ? null : features[e], out,
                        outOff + e * width);
            }
        }
    }

    /** The output from {@code p[pOff..pOff+proj.out())} = head(final_norm(y)). */
    abstract void score(float[] p, int pOff, int token, float[] features, float[] out, int outOff);

    /** Whether the output for event t comes from {@code y_{t-1}} (else from {@code y_t}). */
    abstract boolean predictive();

    /** {@code scratch[h..h+out) = head(final_norm(y[off..off+h)))}; returns where the result starts. */
    final int project(float[] y, int off, float[] scratch) {
        finalNorm.apply(y, off, scratch, 0);
        proj.apply(scratch, 0, scratch, h);
        return h;
    }

    /** Heads that score event t with the prediction from {@code y_{t-1}}. */
    abstract static class Predictive extends Head {
        Predictive(ModelConfig cfg, Weights w, Linear proj) {
            super(cfg, w, proj);
        }

        @Override
        int stateSize() {
            return h;
        }

        @Override
        int outputSize() {
            return 1;
        }

        @Override
        void after(float[] y, float[] state, int off, float[] out, float[] scratch) {
            System.arraycopy(y, 0, state, off, h);
        }

        @Override
        void before(float[] state, int off, int token, float[] features, float[] out, float[] scratch) {
            emit(state, off, token, features, out, 0, scratch);
        }

        @Override
        boolean predictive() {
            return true;
        }
    }

    /** Surprisal in nats of the event's token under the previous step's logits. */
    static final class NextToken extends Predictive {
        private final boolean tied;

        NextToken(ModelConfig cfg, Weights w, Linear proj, boolean tied) {
            super(cfg, w, proj);
            this.tied = tied;
        }

        @Override
        long parameters() {
            return tied ? super.parameters() - (long) proj.in() * proj.out() : super.parameters();
        }

        @Override
        void score(float[] p, int pOff, int token, float[] features, float[] out, int outOff) {
            float logit = p[pOff + token]; // before logSumExp, which overwrites p
            out[outOff] = (float) (Vec.logSumExp(p, pOff, proj.out()) - logit);
        }
    }

    /** Mean squared error of the previous step's prediction against this event's features. */
    static final class Regression extends Predictive {
        Regression(ModelConfig cfg, Weights w, Linear proj) {
            super(cfg, w, proj);
        }

        @Override
        void score(float[] p, int pOff, int token, float[] features, float[] out, int outOff) {
            int f = proj.out();
            double sum = 0;
            for (int i = 0; i < f; i++) {
                double d = p[pOff + i] - (double) features[i];
                sum += d * d;
            }
            out[outOff] = (float) (sum / f);
        }
    }

    /** Class probabilities after the event. */
    static final class Classes extends Head {
        Classes(ModelConfig cfg, Weights w, Linear proj) {
            super(cfg, w, proj);
        }

        @Override
        int stateSize() {
            return 0;
        }

        @Override
        int outputSize() {
            return proj.out();
        }

        @Override
        void before(float[] state, int off, int token, float[] features, float[] out, float[] scratch) {}

        @Override
        void after(float[] y, float[] state, int off, float[] out, float[] scratch) {
            emit(y, 0, 0, null, out, 0, scratch);
        }

        @Override
        void score(float[] p, int pOff, int token, float[] features, float[] out, int outOff) {
            System.arraycopy(p, pOff, out, outOff, proj.out());
            Vec.softmax(out, outOff, proj.out());
        }

        @Override
        boolean predictive() {
            return false;
        }
    }
}
