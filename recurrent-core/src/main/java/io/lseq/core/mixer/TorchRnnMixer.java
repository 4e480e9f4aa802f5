package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rows;

/**
 * The part {@code torch.nn.GRU} and {@code torch.nn.LSTM} share: {@code G} gates of width N,
 * computed as {@code W_ih a + b_ih} and {@code W_hh h + b_hh} from tensors named as PyTorch's
 * {@code state_dict} names them ({@code weight_ih_l0}, ...). The hidden state {@code h[N]} starts
 * the key's state slice; subclasses combine the gates.
 */
abstract class TorchRnnMixer implements Mixer {
    final int n;
    final int gates;
    private final Linear ih;
    private final Linear hh;

    TorchRnnMixer(Weights w, String prefix, int h, int n, int gates) {
        this.n = n;
        this.gates = gates;
        ih = new Linear(gates * n, h, w.take(prefix + "weight_ih_l0", gates * n, h),
                w.take(prefix + "bias_ih_l0", gates * n));
        hh = new Linear(gates * n, n, w.take(prefix + "weight_hh_l0", gates * n, n),
                w.take(prefix + "bias_hh_l0", gates * n));
    }

    @Override
    public int outputDim() {
        return n;
    }

    @Override
    public long parameters() {
        return ih.parameters() + hh.parameters();
    }

    /**
     * Combines the gates into the new state (in place at {@code off}) and the output {@code m}:
     * {@code gi[giOff..)} holds {@code W_ih a + b_ih}, {@code gh[ghOff..)} holds {@code W_hh h + b_hh}.
     */
    abstract void combine(float[] state, int off, float[] gi, int giOff, float[] gh, int ghOff, float[] m);

    /** Gate rows of every event ({@code W_ih a + b_ih}); per running key, h and {@code W_hh h + b_hh}. */
    private static final class RnnScratch implements Scratch {
        float[][] gi = new float[0][];
        float[][] h = new float[0][];
        float[][] gh = new float[0][];
        int[] order = new int[0];
        long[] sort = new long[0];
    }

    @Override
    public final Scratch newScratch() {
        return new RnnScratch();
    }

    /**
     * The input product of every row at once (it does not depend on h), then the keys in
     * lockstep: per event index, one {@code W_hh} product over the keys that still have events,
     * which reads each weight once for several keys, and the gates combined key by key.
     */
    @Override
    public final void forward(Runs runs, int off, float[][] a, float[][] m, Scratch scratch, Parallel par) {
        RnnScratch s = (RnnScratch) scratch;
        int rows = runs.rows();
        int keys = runs.keys();
        float[][] gi = s.gi = Rows.atLeast(s.gi, rows, gates * n);
        if (par.serial(rows, ROWS_PER_TASK)) {
            ih.applyRows(a, gi, 0, rows);
        } else {
            par.range(rows, ROWS_PER_TASK, (from, to) -> ih.applyRows(a, gi, from, to));
        }
        float[][] h = s.h = Rows.atLeast(s.h, keys, n);
        float[][] gh = s.gh = Rows.atLeast(s.gh, keys, gates * n);
        int[] order = byLength(runs, s);
        int longest = runs.length(order[0]);
        int active = keys;
        for (int t = 0; t < longest; t++) {
            while (active > 0 && runs.length(order[active - 1]) <= t) {
                active--;
            }
            for (int j = 0; j < active; j++) {
                System.arraycopy(runs.state(order[j]), off, h[j], 0, n);
            }
            hh.applyRows(h, gh, 0, active);
            for (int j = 0; j < active; j++) {
                int k = order[j];
                int row = runs.start(k) + t;
                combine(runs.state(k), off, gi[row], 0, gh[j], 0, m[row]);
            }
        }
    }

    /** The keys by run length, longest first, so that the keys still running at event t are a prefix. */
    private static int[] byLength(Runs runs, RnnScratch s) {
        int keys = runs.keys();
        if (s.order.length < keys) {
            s.order = new int[Math.max(keys, 2 * s.order.length)];
            s.sort = new long[s.order.length];
        }
        int[] order = s.order;
        if (runs.single()) {
            for (int k = 0; k < keys; k++) {
                order[k] = k;
            }
            return order;
        }
        long[] sort = s.sort;
        for (int k = 0; k < keys; k++) {
            sort[k] = (long) (Integer.MAX_VALUE - runs.length(k)) << 32 | k;
        }
        java.util.Arrays.sort(sort, 0, keys);
        for (int k = 0; k < keys; k++) {
            order[k] = (int) sort[k];
        }
        return order;
    }

    /** Events per task of the batched input product. */
    private static final int ROWS_PER_TASK = 64;
}
