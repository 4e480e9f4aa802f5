package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Activation;

/**
 * Exactly {@code torch.nn.LSTM(H, N)}, gate order (i, f, g, o):
 * {@code c' = f c + i g}, {@code h' = o tanh(c')}. State: {@code h[N]} then {@code c[N]}; output h'.
 */
public final class LstmMixer extends TorchRnnMixer {

    /** Takes the {@code prefix} tensors from {@code w}. */
    public LstmMixer(Weights w, String prefix, int h, int n) {
        super(w, prefix, h, n, 4);
    }

    @Override
    public int stateSize() {
        return 2 * n;
    }

    @Override
    public void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        gates(state, off, a, scratch);
        int gh = 4 * n;
        int c = off + n;
        for (int j = 0; j < n; j++) {
            float i = Activation.sigmoid(scratch[j] + scratch[gh + j]);
            float f = Activation.sigmoid(scratch[n + j] + scratch[gh + n + j]);
            float g = Activation.tanh(scratch[2 * n + j] + scratch[gh + 2 * n + j]);
            float o = Activation.sigmoid(scratch[3 * n + j] + scratch[gh + 3 * n + j]);
            float cell = f * state[c + j] + i * g;
            state[c + j] = cell;
            float next = o * Activation.tanh(cell);
            state[off + j] = next;
            m[j] = next;
        }
    }
}
