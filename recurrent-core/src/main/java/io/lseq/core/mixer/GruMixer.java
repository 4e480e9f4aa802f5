package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Activation;

/**
 * Exactly {@code torch.nn.GRU(H, N)}, gate order (r, z, n):
 * {@code n = tanh(i_n + r * h_n)}, {@code h' = (1 - z) n + z h}. State: {@code h[N]}; output h'.
 */
public final class GruMixer extends TorchRnnMixer {

    /** Takes the {@code prefix} tensors from {@code w}. */
    public GruMixer(Weights w, String prefix, int h, int n) {
        super(w, prefix, h, n, 3);
    }

    @Override
    public int stateSize() {
        return n;
    }

    @Override
    void combine(float[] state, int off, float[] gi, int gio, float[] gh, int gho, float[] m) {
        for (int i = 0; i < n; i++) {
            float r = Activation.sigmoid(gi[gio + i] + gh[gho + i]);
            float z = Activation.sigmoid(gi[gio + n + i] + gh[gho + n + i]);
            float c = Activation.tanh(gi[gio + 2 * n + i] + r * gh[gho + 2 * n + i]);
            float next = (1f - z) * c + z * state[off + i];
            state[off + i] = next;
            m[i] = next;
        }
    }
}
