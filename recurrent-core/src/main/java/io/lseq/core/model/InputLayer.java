package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;

/** Turns an event's token ({@code embed.weight} row) or feature vector ({@code input_proj}) into x (width H). */
final class InputLayer {
    private final int h;
    private final float[] embed;
    private final int vocab;
    private final Linear proj;

    InputLayer(ModelConfig cfg, Weights w) {
        h = cfg.dModel();
        if (cfg.input().tokens()) {
            vocab = cfg.input().vocabSize();
            embed = w.take("embed.weight", vocab, h);
            proj = null;
        } else {
            int f = cfg.input().dim();
            vocab = 0;
            embed = null;
            proj = new Linear(h, f, w.take("input_proj.weight", h, f), w.take("input_proj.bias", h));
        }
    }

    /** The embedding matrix, for a tied head; null for feature input. */
    float[] embedding() {
        return embed;
    }

    /** The feature projection, or null for token input. */
    Linear projection() {
        return proj;
    }

    long parameters() {
        return embed != null ? embed.length : proj.parameters();
    }

    /** {@code x[t] = input of event t} for {@code t} in {@code [from, to)}. */
    void applyRows(int[] tokens, float[][] features, float[][] x, int from, int to) {
        if (embed != null) {
            for (int t = from; t < to; t++) {
                System.arraycopy(embed, tokens[t] * h, x[t], 0, h);
            }
        } else {
            proj.applyRows(features, x, from, to);
        }
    }
}
