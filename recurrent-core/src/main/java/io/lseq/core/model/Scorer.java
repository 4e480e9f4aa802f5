package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.math.Parallel;

/**
 * Steps keys' states one event at a time. Holds the scratch buffers of one thread, so a step
 * allocates nothing; create one per thread with {@link Model#newScorer()}.
 */
public final class Scorer {
    private final Model model;
    private final ForwardPass pass;

    Scorer(Model model) {
        this.model = model;
        this.pass = new ForwardPass(model);
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
        String bad = checkInput(token, null);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
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
        String bad = checkInput(0, features);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        step(state, 0, features, out);
    }

    /**
     * Scores one event of each of {@code count} different keys and advances their states, the
     * products of all keys together: the same numbers as {@link #stepToken} or
     * {@link #stepFeatures} key by key, and faster per event, since each weight is read once per
     * four keys instead of once per key (the micro-batches of the streaming job).
     *
     * @param states {@code count} states of different keys
     * @param tokens the events' tokens for a token model, else null
     * @param features the events' feature vectors for a feature model, else null
     * @param outs {@code count} rows of {@link Model#outputSize()} floats
     * @throws IllegalArgumentException if an input is invalid or a state is given twice; then no
     *     state has changed
     */
    public void stepKeys(KeyState[] states, int[] tokens, float[][] features, int count, float[][] outs) {
        validateKeys(states, tokens, features, count);
        for (int k = 0; k < count; k++) {
            pass.add(states[k], tokens == null ? 0 : tokens[k], features == null ? null : features[k], outs[k]);
        }
        run();
    }

    private void validateKeys(KeyState[] states, int[] tokens, float[][] features, int count) {
        ModelConfig.Input in = model.config().input();
        if (in.tokens() ? tokens == null : features == null) {
            throw new IllegalArgumentException("model " + model.config().name() + " takes "
                    + (in.tokens() ? "tokens" : "features"));
        }
        for (int k = 0; k < count; k++) {
            if (states[k].values().length != model.stateSize()) {
                throw new IllegalArgumentException("state " + k + " has " + states[k].values().length
                        + " floats, model " + model.config().name() + " needs " + model.stateSize());
            }
            for (int j = 0; j < k; j++) {
                if (states[j] == states[k]) {
                    throw new IllegalArgumentException("states " + j + " and " + k + " are the same key's");
                }
            }
            String bad = in.tokens() ? checkInput(tokens[k], null) : checkInput(0, features[k]);
            if (bad != null) {
                throw new IllegalArgumentException("event " + k + ": " + bad);
            }
        }
    }

    /** What is wrong with a token (features null) or a feature vector for this model, or null. */
    private String checkInput(int token, float[] features) {
        ModelConfig.Input in = model.config().input();
        if (features == null) {
            return token < 0 || token >= in.vocabSize()
                    ? "token " + token + " out of range [0, " + in.vocabSize() + ")" : null;
        }
        if (features.length != in.dim()) {
            return "expected " + in.dim() + " features, got " + features.length;
        }
        for (int i = 0; i < in.dim(); i++) {
            if (!Float.isFinite(features[i])) {
                return "feature " + i + " is not finite: " + features[i];
            }
        }
        return null;
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
        pass.add(state, token, features, out);
        run();
    }

    /** Runs the pass, then empties it whatever happened, so it holds no key's state between calls. */
    private void run() {
        try {
            pass.run(Parallel.SERIAL);
        } finally {
            pass.clear();
        }
    }
}
