package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Linear;

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

    /** {@code scratch[0, G*N) = W_ih a + b_ih}, {@code scratch[G*N, 2*G*N) = W_hh h + b_hh}, h at {@code off}. */
    final void gates(float[] state, int off, float[] a, float[] scratch) {
        ih.apply(a, 0, scratch, 0);
        hh.apply(state, off, scratch, gates * n);
    }
}
