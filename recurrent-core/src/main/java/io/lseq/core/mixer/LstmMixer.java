package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Vec;

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

    /** In place in {@code gi}: i, f, o become their sigmoids, g its tanh; tanh(c') goes through m. */
    @Override
    void combine(float[] state, int off, float[] gi, int gio, float[] gh, int gho, float[] m) {
        Vec.sigmoidAdd(gi, gio, gh, gho, 2 * n);
        Vec.tanhAdd(gi, gio + 2 * n, gh, gho + 2 * n, n);
        Vec.sigmoidAdd(gi, gio + 3 * n, gh, gho + 3 * n, n);
        int c = off + n;
        for (int j = 0; j < n; j++) {
            state[c + j] = gi[gio + n + j] * state[c + j] + gi[gio + j] * gi[gio + 2 * n + j];
        }
        Vec.tanh(state, c, m, 0, n);
        for (int j = 0; j < n; j++) {
            float next = gi[gio + 3 * n + j] * m[j];
            state[off + j] = next;
            m[j] = next;
        }
    }
}
