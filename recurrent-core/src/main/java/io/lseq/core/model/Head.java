package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Vec;
import io.lseq.core.mixer.Runs;

/**
 * What a model emits per event, from {@code head(final_norm(y))}.
 *
 * <p>{@code next_token} and {@code regression} score event t with the prediction made after
 * event t-1, so they keep {@code y_{t-1}} (width H) in the key's state; a fresh state holds
 * zeros, which gives {@code head(final_norm(0))}. {@code classes} scores from {@code y_t} and
 * keeps nothing. {@link #forward} is where that shift happens, for every path.
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

    /** Rows of products at once: enough to share weight loads, few enough to stay in cache. */
    static final int CHUNK_ROWS = 32;

    /** One thread's buffers for {@link #forward}: {@link #CHUNK_ROWS} rows. */
    final class Scratch {
        final float[][] normed = new float[CHUNK_ROWS][h];
        final float[][] projected = new float[CHUNK_ROWS][proj.out()];
        /** Each row's source for the final norm, and where in it y starts. */
        final float[][] source = new float[CHUNK_ROWS][];
        final int[] sourceOff = new int[CHUNK_ROWS];
    }

    Scratch newScratch() {
        return new Scratch();
    }

    /**
     * Emits every event's output, event t of key k into {@code outs[k][outOff[k] + (t - start) *
     * outputSize()]}, from {@code head(final_norm(y))}: for predictive heads from the output
     * before the event ({@code y[t-1]}, or for a run's first event the one its key's state keeps
     * at {@code off}), for classes from {@code y[t]}. Then predictive heads keep each key's last
     * y in its state. This is the only place that shifts y by one event. A key whose
     * {@code outs[k]} is null gets no outputs; when no key wants any, no output is computed.
     *
     * @param y the last block's output rows
     * @param tokens the events' tokens by row (token input), else null
     * @param features the events' features by row (feature input), else null
     */
    final void forward(Runs runs, int off, float[][] y, int[] tokens, float[][] features, float[][] outs, int[] outOff,
            Scratch s, Parallel par) {
        int rows = runs.rows();
        boolean wanted = false;
        for (int k = 0; k < runs.keys() && !wanted; k++) {
            wanted = outs[k] != null;
        }
        if (wanted && par.serial(rows, Block.ROWS)) {
            emit(runs, off, y, tokens, features, outs, outOff, s, 0, rows);
        } else if (wanted) {
            par.range(rows, Block.ROWS, (from, to) -> emit(runs, off, y, tokens, features, outs, outOff, new Scratch(),
                    from, to));
        }
        if (predictive()) {
            for (int k = 0; k < runs.keys(); k++) {
                System.arraycopy(y[runs.end(k) - 1], 0, runs.state(k), off, h);
            }
        }
    }

    /** {@link #forward}'s outputs of rows {@code [from, to)}, {@link #CHUNK_ROWS} rows per product. */
    private void emit(Runs runs, int off, float[][] y, int[] tokens, float[][] features, float[][] outs, int[] outOff,
            Scratch s, int from, int to) {
        int width = outputSize();
        boolean shift = predictive();
        int key = keyOf(runs, from);
        for (int r0 = from; r0 < to; r0 += CHUNK_ROWS) {
            int n = Math.min(CHUNK_ROWS, to - r0);
            for (int k = key, i = 0; i < n; i++) {
                int t = r0 + i;
                while (t >= runs.end(k)) {
                    k++;
                }
                boolean fromState = shift && t == runs.start(k);
                s.source[i] = fromState ? runs.state(k) : y[shift ? t - 1 : t];
                s.sourceOff[i] = fromState ? off : 0;
            }
            finalNorm.applyRows(s.source, s.sourceOff, s.normed, 0, n);
            proj.applyRows(s.normed, s.projected, 0, n);
            for (int i = 0; i < n; i++) {
                int t = r0 + i;
                while (t >= runs.end(key)) {
                    key++;
                }
                if (outs[key] != null) {
                    score(s.projected[i], 0, tokens == null ? 0 : tokens[t], features == null ? null : features[t],
                            outs[key], outOff[key] + (t - runs.start(key)) * width);
                }
            }
        }
    }

    /** The key whose run holds row {@code t}. */
    private static int keyOf(Runs runs, int t) {
        int lo = 0;
        int hi = runs.keys() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (runs.start(mid) <= t) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** The output from {@code p[pOff..pOff+proj.out())} = head(final_norm(y)). */
    abstract void score(float[] p, int pOff, int token, float[] features, float[] out, int outOff);

    /** Whether the output for event t comes from {@code y_{t-1}} (else from {@code y_t}). */
    abstract boolean predictive();

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
