package io.lseq.core.format;

import io.lseq.core.math.Gelu;
import java.util.List;

/**
 * The architecture described by a model's {@code config.json} (MODEL_FORMAT.md, version 1),
 * parsed and validated by {@link ConfigParser}.
 *
 * @param name the model name, copied into every score
 * @param dModel H, the width of the residual stream
 * @param input how events enter the model
 * @param norm the norm used everywhere (blocks, mlp, final)
 * @param normEps epsilon inside the norm's square root
 * @param gelu which GELU to use
 * @param blocks the blocks, in order
 * @param head what the model emits
 */
public record ModelConfig(String name, int dModel, Input input, Norm norm, float normEps, Gelu gelu,
                          List<Block> blocks, Head head) {

    /** Norm kind: {@code layer} has weight and bias, {@code rms} weight only. */
    public enum Norm { LAYER, RMS }

    /** What follows the mixer: a GLU output projection or nothing. */
    public enum Post { GLU, NONE }

    /**
     * Input section.
     *
     * @param tokens whether events carry tokens (otherwise feature vectors)
     * @param vocabSize V, for tokens
     * @param bosToken the BOS token consumed first by every key, or -1 for none
     * @param dim F, for features
     */
    public record Input(boolean tokens, int vocabSize, int bosToken, int dim) implements java.io.Serializable {
        /** Whether a BOS token is set. */
        public boolean hasBos() {
            return bosToken >= 0;
        }
    }

    /**
     * One block.
     *
     * @param mixer the sequence mixer
     * @param post the post-mixer projection
     * @param mlpHidden M2 of the optional MLP, or 0 for none
     */
    public record Block(Mixer mixer, Post post, int mlpHidden) {}

    /** A mixer's config; the record type says which mixer it is. */
    public sealed interface Mixer permits Lru, Gru, Lstm, Attention, Gau {
        /** The type name as written in config.json. */
        String type();
    }

    /** @param dState N, the number of complex state channels */
    public record Lru(int dState) implements Mixer {
        @Override
        public String type() {
            return "lru";
        }
    }

    /** @param dState N, the hidden size of {@code torch.nn.GRU(H, N)} */
    public record Gru(int dState) implements Mixer {
        @Override
        public String type() {
            return "gru";
        }
    }

    /** @param dState N, the hidden size of {@code torch.nn.LSTM(H, N)} */
    public record Lstm(int dState) implements Mixer {
        @Override
        public String type() {
            return "lstm";
        }
    }

    /**
     * Causal windowed multi-head attention with RoPE.
     *
     * @param heads number of heads, dividing H
     * @param window W, visible positions including self
     * @param ropeTheta RoPE base
     * @param lognBase T0 of log-n scaling, or 0 for none
     * @param sinks S attention sinks (lseq extension), 0 for none
     */
    public record Attention(int heads, int window, double ropeTheta, double lognBase, int sinks) implements Mixer {
        @Override
        public String type() {
            return "attention";
        }

        /** Part of the state signature: without sinks, the text of the versions before sinks. */
        @Override
        public String toString() {
            return "Attention[heads=" + heads + ", window=" + window + ", ropeTheta=" + ropeTheta + ", lognBase="
                    + lognBase + (sinks > 0 ? ", sinks=" + sinks : "") + "]";
        }
    }

    /**
     * Gated attention unit, single head.
     *
     * @param expansion E = expansion * H
     * @param keySize S
     * @param window W
     * @param ropeTheta RoPE base
     * @param lognBase log-n base (default 512)
     * @param sinks S attention sinks (lseq extension), 0 for none
     */
    public record Gau(int expansion, int keySize, int window, double ropeTheta, double lognBase, int sinks)
            implements Mixer {
        @Override
        public String type() {
            return "gau";
        }

        /** Part of the state signature: without sinks, the text of the versions before sinks. */
        @Override
        public String toString() {
            return "Gau[expansion=" + expansion + ", keySize=" + keySize + ", window=" + window + ", ropeTheta="
                    + ropeTheta + ", lognBase=" + lognBase + (sinks > 0 ? ", sinks=" + sinks : "") + "]";
        }
    }

    /** The head's kind. */
    public enum HeadType { NEXT_TOKEN, CLASSES, REGRESSION }

    /**
     * Head section.
     *
     * @param type what it emits
     * @param tieEmbeddings next_token only: reuse {@code embed.weight}
     * @param numClasses K for classes
     * @param dim F for regression
     */
    public record Head(HeadType type, boolean tieEmbeddings, int numClasses, int dim) {}
}
