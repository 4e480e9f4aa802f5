package io.lseq.core.mixer;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;

/** Builds the mixer a block's config names. */
public final class Mixers {
    private Mixers() {}

    /**
     * @param prefix tensor name prefix, e.g. {@code blocks.2.mixer.}
     * @param h d_model
     */
    public static Mixer create(ModelConfig.Mixer cfg, Weights w, String prefix, int h) {
        if (cfg instanceof ModelConfig.Lru lru) {
            return new LruMixer(w, prefix, h, lru.dState());
        } else if (cfg instanceof ModelConfig.Gru gru) {
            return new GruMixer(w, prefix, h, gru.dState());
        } else if (cfg instanceof ModelConfig.Lstm lstm) {
            return new LstmMixer(w, prefix, h, lstm.dState());
        } else if (cfg instanceof ModelConfig.Attention att) {
            return new AttentionMixer(w, prefix, h, att);
        } else if (cfg instanceof ModelConfig.Gau gau) {
            return new GauMixer(w, prefix, h, gau);
        }
        throw new IllegalArgumentException("unknown mixer " + cfg);
    }
}
