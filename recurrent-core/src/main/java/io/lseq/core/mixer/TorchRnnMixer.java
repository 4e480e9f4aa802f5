package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Parallel;

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
    public int scratchSize() {
        return 2 * gates * n;
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

    @Override
    public final void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        ih.apply(a, 0, scratch, 0);
        hh.apply(state, off, scratch, gates * n);
        combine(state, off, scratch, 0, scratch, gates * n, m);
    }

    @Override
    public final int keyRowWidth() {
        return gates * n;
    }

    /** Both products over the keys: {@code W_ih a} into r1, {@code W_hh h} into r2 (h copied into m first). */
    @Override
    public final void stepKeys(float[][] states, int off, long[] pos, float[][] a, float[][] m, int count,
            float[][] r1, float[][] r2, float[] scratch) {
        ih.applyRows(a, r1, 0, count);
        for (int k = 0; k < count; k++) {
            System.arraycopy(states[k], off, m[k], 0, n);
        }
        hh.applyRows(m, r2, 0, count);
        for (int k = 0; k < count; k++) {
            combine(states[k], off, r1[k], 0, r2[k], 0, m[k]);
        }
    }

    /**
     * The input product of a chunk of events at once (it does not depend on h), in parallel, then
     * the recurrence through the chunk; chunks keep the gate rows small enough to reuse.
     */
    @Override
    public final void sequence(float[] state, int off, long pos0, float[][] a, float[][] m, int length, Parallel par) {
        int chunk = Math.min(length, CHUNK);
        float[][] gi = new float[chunk][gates * n];
        float[] gh = new float[gates * n];
        for (int t0 = 0; t0 < length; t0 += CHUNK) {
            int rows = Math.min(CHUNK, length - t0);
            float[][] in = java.util.Arrays.copyOfRange(a, t0, t0 + rows);
            par.range(rows, ROWS_PER_TASK, (from, to) -> ih.applyRows(in, gi, from, to));
            for (int t = 0; t < rows; t++) {
                hh.apply(state, off, gh, 0);
                combine(state, off, gi[t], 0, gh, 0, m[t0 + t]);
            }
        }
    }

    /** Events per chunk of {@link #sequence}. */
    private static final int CHUNK = 2048;

    /**
     * The keys in lockstep: the input product of every row at once, then per event index one
     * {@code W_hh} product over the keys that still have events, which reads each weight once
     * for several keys.
     */
    @Override
    public final void sequenceKeys(float[][] states, int off, long[] pos0, float[][] a, float[][] m, int[] start,
            int count) {
        int rows = start[count];
        float[][] gi = new float[rows][gates * n];
        ih.applyRows(a, gi, 0, rows);
        // Keys by length, longest first: the keys still running at event t are a prefix.
        Integer[] order = new Integer[count];
        int longest = 0;
        for (int k = 0; k < count; k++) {
            order[k] = k;
            longest = Math.max(longest, start[k + 1] - start[k]);
        }
        java.util.Arrays.sort(order, (x, y) -> Integer.compare(start[y + 1] - start[y], start[x + 1] - start[x]));
        float[][] h = new float[count][n];
        float[][] gh = new float[count][gates * n];
        int active = count;
        for (int t = 0; t < longest; t++) {
            while (active > 0 && start[order[active - 1] + 1] - start[order[active - 1]] <= t) {
                active--;
            }
            for (int j = 0; j < active; j++) {
                System.arraycopy(states[order[j]], off, h[j], 0, n);
            }
            hh.applyRows(h, gh, 0, active);
            for (int j = 0; j < active; j++) {
                int k = order[j];
                combine(states[k], off, gi[start[k] + t], 0, gh[j], 0, m[start[k] + t]);
            }
        }
    }

    /** Events per task of the batched input product. */
    private static final int ROWS_PER_TASK = 64;
}
