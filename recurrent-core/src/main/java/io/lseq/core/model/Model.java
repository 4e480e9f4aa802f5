package io.lseq.core.model;

import io.lseq.core.format.ConfigParser;
import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.SafeTensors;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.mixer.Mixer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A loaded model (MODEL_FORMAT.md version 1): immutable, shared by every thread. Per-key state
 * lives in {@link KeyState}, per-thread buffers in {@link Scorer}.
 *
 * <pre>{@code
 * Model model = Model.load(Path.of("examples/models/reference-lru"));
 * Scorer scorer = model.newScorer();          // one per thread
 * KeyState key = model.newState();            // one per key
 * float[] out = new float[model.outputSize()];
 * scorer.stepToken(key, 17, out);             // out[0]: surprisal of token 17
 * }</pre>
 *
 * <p>State layout ({@link #layout()}): each block's mixer state in block order, then the head's.
 * lru: {@code re[N], im[N]}; gru: {@code h[N]}; lstm: {@code h[N], c[N]}; attention:
 * {@code keys[W][H], values[W][H]}; gau: {@code keys[W][S], values[W][E]} (keys stored
 * RoPE-rotated); next_token and regression heads: {@code y[H]}, the last block's output of the
 * previous event; classes: nothing.
 */
public final class Model {
    private final ModelConfig config;
    private final InputLayer input;
    private final Block[] blocks;
    private final Head head;
    private final int headStateOffset;
    private final int stateSize;
    private final long parameters;
    private final KeyState initial;

    private Model(ModelConfig config, Weights w) {
        this.config = config;
        this.input = new InputLayer(config, w);
        int off = 0;
        blocks = new Block[config.blocks().size()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block(config, i, w, off);
            off += blocks[i].stateSize();
        }
        head = Head.create(config, w, input);
        headStateOffset = off;
        stateSize = off + head.stateSize();
        w.requireAllTaken();
        parameters = w.parametersTaken();
        KeyState fresh = new KeyState(new float[stateSize], 0);
        if (config.input().hasBos()) {
            newScorer().consume(fresh, config.input().bosToken());
        }
        initial = fresh;
    }

    /**
     * Loads {@code dir/config.json} and {@code dir/model.safetensors}.
     *
     * @throws ModelFormatException naming the file and the field or tensor at fault
     */
    public static Model load(Path dir) {
        ModelConfig config = ConfigParser.read(configFile(dir));
        Path weights = weightsFile(dir);
        return new Model(config, new Weights(weights.toString(), SafeTensors.read(weights)));
    }

    /**
     * {@code dir/config.json}, checking first that {@code dir} is a directory.
     *
     * @throws ModelFormatException when {@code dir} is not a directory
     */
    public static Path configFile(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir.toString(), Files.exists(dir) ? "is not a directory" : "no such model directory");
        }
        return dir.resolve("config.json");
    }

    /**
     * {@code dir/model.safetensors}.
     *
     * @throws ModelFormatException when there is no such file
     */
    public static Path weightsFile(Path dir) {
        Path weights = dir.resolve("model.safetensors");
        if (!Files.isRegularFile(weights)) {
            throw new ModelFormatException(weights.toString(), "no such file");
        }
        return weights;
    }

    /**
     * Loads a model from its two files' contents, e.g. shipped inside a job graph.
     *
     * @param where a name for messages (the directory it came from)
     */
    public static Model load(String configJson, byte[] safetensors, String where) {
        ModelConfig config = ConfigParser.parse(configJson, where + "/config.json");
        String file = where + "/model.safetensors";
        return new Model(config, new Weights(file, SafeTensors.read(safetensors, file)));
    }

    /** Builds a model from a parsed config and its tensors (for tools and tests). */
    public static Model of(ModelConfig config, Weights weights) {
        return new Model(config, weights);
    }

    /** The parsed config. */
    public ModelConfig config() {
        return config;
    }

    /** Number of parameters (a tied embedding counted once). */
    public long parameterCount() {
        return parameters;
    }

    /** Floats in one key's state. */
    public int stateSize() {
        return stateSize;
    }

    /** Bytes of one key's state as stored: the floats plus the 8-byte position. */
    public long stateBytes() {
        return 4L * stateSize + 8;
    }

    /** Floats emitted per event: 1, or K for a classes head. */
    public int outputSize() {
        return head.outputSize();
    }

    /** Whether the output is K class probabilities rather than one score. */
    public boolean emitsProbabilities() {
        return config.head().type() == ModelConfig.HeadType.CLASSES;
    }

    /** A new key's state: zeros, then the BOS token consumed when the model has one. */
    public KeyState newState() {
        return initial.copy();
    }

    /** The 0-based index (BOS not counted) the next event of this key will have. */
    public long nextSeq(KeyState state) {
        return state.position() - (config.input().hasBos() ? 1 : 0);
    }

    /** A scorer for one thread. */
    public Scorer newScorer() {
        return new Scorer(this);
    }

    /**
     * What a key's state means, as text: d_model, each block's mixer with all its settings, and
     * whether the head keeps {@code y}. Two models with equal signatures read each other's
     * states; anything else must be refused, never misread.
     */
    public String stateSignature() {
        StringBuilder b = new StringBuilder("lseq-state/1 d_model=").append(config.dModel());
        b.append(" bos=").append(config.input().hasBos());
        for (int i = 0; i < blocks.length; i++) {
            b.append(" | ").append(i).append(':').append(config.blocks().get(i).mixer());
        }
        b.append(" | head=").append(config.head().type()).append(" floats=").append(stateSize);
        return b.toString();
    }

    /** One region of the state layout. */
    public record Region(String name, int offset, int size) {}

    /** The state layout, region by region, in order. */
    public List<Region> layout() {
        List<Region> out = new ArrayList<>();
        for (int i = 0; i < blocks.length; i++) {
            Mixer m = blocks[i].mixer();
            String type = config.blocks().get(i).mixer().type();
            out.add(new Region("blocks." + i + " " + type, blocks[i].stateOffset, m.stateSize()));
        }
        if (head.stateSize() > 0) {
            out.add(new Region("head y", headStateOffset, head.stateSize()));
        }
        return out;
    }

    /**
     * One block's parts as loaded, for backends that run the model elsewhere (the GPU builds its
     * device model from these, not from the files again).
     *
     * @param stateOffset where the block's mixer state starts in a key's state
     * @param out1 the GLU's value product, or null (post none)
     * @param out2 the GLU's gate product, or null
     * @param mlpNorm null without an MLP, as {@code fc1} and {@code fc2}
     */
    public record BlockParts(int stateOffset, Norm norm, Mixer mixer, Linear out1, Linear out2, Norm mlpNorm, Linear fc1,
            Linear fc2) {}

    /** Every block's parts, in order. */
    public List<BlockParts> blockParts() {
        List<BlockParts> parts = new ArrayList<>(blocks.length);
        for (Block b : blocks) {
            parts.add(b.parts());
        }
        return parts;
    }

    /** A copy of the token embedding {@code [V, H]}, or null for feature input. */
    public float[] embedding() {
        float[] e = input.embedding();
        return e == null ? null : e.clone();
    }

    /** The feature input's projection {@code [H, dim]}, or null for token input. */
    public Linear inputProjection() {
        return input.projection();
    }

    /** The final norm before the head. */
    public Norm finalNorm() {
        return head.finalNorm;
    }

    /** The head's product ({@code [V, H]} next-token, tied or not; {@code [K, H]} classes; {@code [F, H]} regression). */
    public Linear headProjection() {
        return head.proj;
    }

    /** Where the head's state (y of the key's last event, width H) starts in a key's state; predictive heads only. */
    public int headStateOffset() {
        return headStateOffset;
    }

    Block[] blocks() {
        return blocks;
    }

    Head head() {
        return head;
    }

    InputLayer input() {
        return input;
    }
}
