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
    void combine(float[] state, int off, float[] gi, int gio, float[] gh, int gho, float[] m) {
        int c = off + n;
        for (int j = 0; j < n; j++) {
            float i = Activation.sigmoid(gi[gio + j] + gh[gho + j]);
            float f = Activation.sigmoid(gi[gio + n + j] + gh[gho + n + j]);
            float g = Activation.tanh(gi[gio + 2 * n + j] + gh[gho + 2 * n + j]);
            float o = Activation.sigmoid(gi[gio + 3 * n + j] + gh[gho + 3 * n + j]);
            float cell = f * state[c + j] + i * g;
            state[c + j] = cell;
            float next = o * Activation.tanh(cell);
            state[off + j] = next;
            m[j] = next;
        }
    }
}
