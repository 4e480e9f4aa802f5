package io.lseq.core.model;

import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;
import io.lseq.core.mixer.Runs;
import java.util.Arrays;

/**
 * The model's one forward pass, over any batch of runs ({@link Runs}): the input layer, every
 * block, the head. The step (one key, one event), the streaming micro-batch (k keys, one event
 * each) and the batch path (k keys, runs of any length) all fill one and {@link #run} it.
 *
 * <p>Holds one thread's buffers, grown to the largest batch seen: a pass over a shape seen
 * before allocates nothing. Not thread-safe; parallel parts use {@code par}'s threads.
 */
final class ForwardPass {
    private final Model model;
    private final Runs runs = new Runs();
    private final boolean tokenInput;
    private KeyState[] keys = new KeyState[1];
    private int[] tokens = new int[1];
    private float[][] features = new float[1][];
    private float[][] outs = new float[1][];
    private int[] outOff = new int[1];
    private float[][] x = new float[0][];
    private final Block.Scratch[] blocks;
    private final Head.Scratch head;

    ForwardPass(Model model) {
        this.model = model;
        this.tokenInput = model.config().input().tokens();
        Block[] bs = model.blocks();
        blocks = new Block.Scratch[bs.length];
        for (int i = 0; i < bs.length; i++) {
            blocks[i] = bs[i].newScratch();
        }
        head = model.head().newScratch();
    }

    /** Empties the batch. */
    void clear() {
        Arrays.fill(keys, 0, runs.keys(), null);
        Arrays.fill(outs, 0, runs.keys(), null);
        if (!tokenInput) {
            Arrays.fill(features, 0, runs.rows(), null);
        }
        runs.clear();
    }

    /**
     * Adds a key's run: events {@code [from, from + length)} of {@code tokens} or {@code features}
     * (whichever the model takes), their outputs into {@code out} from {@code outOffset}, event
     * after event. The states of the keys in one pass must be different objects.
     */
    void add(KeyState state, int[] tokens, float[][] features, int from, int length, float[] out, int outOffset) {
        int row = room(length);
        if (tokenInput) {
            System.arraycopy(tokens, from, this.tokens, row, length);
        } else {
            System.arraycopy(features, from, this.features, row, length);
        }
        key(state, length, out, outOffset);
    }

    /** Adds one event of a key: a token (token input) or a feature vector. */
    void add(KeyState state, int token, float[] features, float[] out) {
        int row = room(1);
        tokens[row] = token;
        this.features[row] = features;
        key(state, 1, out, 0);
    }

    private int room(int length) {
        int row = runs.rows();
        if (row + length > tokens.length) {
            int cap = Math.max(row + length, 2 * tokens.length);
            tokens = Arrays.copyOf(tokens, cap);
            features = Arrays.copyOf(features, cap);
        }
        return row;
    }

    private void key(KeyState state, int length, float[] out, int outOffset) {
        int k = runs.keys();
        if (k == keys.length) {
            keys = Arrays.copyOf(keys, 2 * k);
            outs = Arrays.copyOf(outs, 2 * k);
            outOff = Arrays.copyOf(outOff, 2 * k);
        }
        keys[k] = state;
        outs[k] = out;
        outOff[k] = outOffset;
        runs.add(state.values(), state.position(), length);
    }

    /** Runs the batch: scores every event and advances every key's state. */
    void run(Parallel par) {
        int rows = runs.rows();
        float[][] xs = x = Rows.atLeast(x, rows, model.config().dModel());
        InputLayer in = model.input();
        int[] tok = tokenInput ? tokens : null;
        float[][] feat = tokenInput ? null : features;
        if (par.serial(rows, Block.ROWS)) {
            in.applyRows(tok, feat, xs, 0, rows);
        } else {
            par.range(rows, Block.ROWS, (from, to) -> in.applyRows(tok, feat, xs, from, to));
        }
        Block[] bs = model.blocks();
        for (int i = 0; i < bs.length; i++) {
            bs[i].forward(runs, xs, blocks[i], par);
        }
        model.head().forward(runs, model.headStateOffset(), xs, tok, feat, outs, outOff, head, par);
        for (int k = 0; k < runs.keys(); k++) {
            keys[k].advance(runs.length(k));
        }
    }
}
