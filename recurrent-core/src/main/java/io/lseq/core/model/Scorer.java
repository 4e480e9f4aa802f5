package io.lseq.core.model;

/**
 * Steps keys' states one event at a time. Holds the scratch buffers of one thread, so a step
 * allocates nothing; create one per thread with {@link Model#newScorer()}.
 */
public final class Scorer {
    private final Model model;
    private final float[] x;
    private final Block.Scratch[] blocks;
    private final float[] headScratch;

    Scorer(Model model) {
        this.model = model;
        this.x = new float[model.config().dModel()];
        Block[] bs = model.blocks();
        this.blocks = new Block.Scratch[bs.length];
        for (int i = 0; i < bs.length; i++) {
            blocks[i] = bs[i].newScratch();
        }
        this.headScratch = new float[model.head().scratchSize()];
    }

    /** The model this scorer steps. */
    public Model model() {
        return model;
    }

    /**
     * Scores one token event and advances the key's state.
     *
     * @param out receives {@link Model#outputSize()} floats: the score, or the class probabilities
     * @throws IllegalArgumentException if the model takes features, or the token is out of range;
     *     the state is then untouched
     */
    public void stepToken(KeyState state, int token, float[] out) {
        if (!model.config().input().tokens()) {
            throw new IllegalArgumentException("model " + model.config().name() + " takes features, not tokens");
        }
        int v = model.config().input().vocabSize();
        if (token < 0 || token >= v) {
            throw new IllegalArgumentException("token " + token + " out of range [0, " + v + ")");
        }
        step(state, token, null, out);
    }

    /**
     * Scores one feature event and advances the key's state.
     *
     * @param features {@code dim} finite numbers
     * @param out receives {@link Model#outputSize()} floats
     * @throws IllegalArgumentException if the model takes tokens, or the vector has the wrong size
     *     or a non-finite value; the state is then untouched
     */
    public void stepFeatures(KeyState state, float[] features, float[] out) {
        if (model.config().input().tokens()) {
            throw new IllegalArgumentException("model " + model.config().name() + " takes tokens, not features");
        }
        int f = model.config().input().dim();
        if (features.length != f) {
            throw new IllegalArgumentException("expected " + f + " features, got " + features.length);
        }
        for (int i = 0; i < f; i++) {
            if (!Float.isFinite(features[i])) {
                throw new IllegalArgumentException("feature " + i + " is not finite: " + features[i]);
            }
        }
        step(state, 0, features, out);
    }

    /** Consumes a token without emitting anything: how a fresh state takes the BOS token. */
    void consume(KeyState state, int token) {
        step(state, token, null, new float[model.outputSize()]);
    }

    private void step(KeyState state, int token, float[] features, float[] out) {
        float[] s = state.values();
        if (s.length != model.stateSize()) {
            throw new IllegalArgumentException("state has " + s.length + " floats, model " + model.config().name()
                    + " needs " + model.stateSize());
        }
        Head head = model.head();
        int headOff = model.headStateOffset();
        head.before(s, headOff, token, features, out, headScratch);
        model.input().apply(token, features, x);
        Block[] bs = model.blocks();
        long pos = state.position();
        for (int i = 0; i < bs.length; i++) {
            bs[i].step(x, s, pos, blocks[i]);
        }
        head.after(x, s, headOff, out, headScratch);
        state.advance();
    }
}
