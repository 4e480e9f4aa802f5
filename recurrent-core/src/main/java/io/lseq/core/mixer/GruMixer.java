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
    public void step(float[] state, int off, long pos, float[] a, float[] m, float[] scratch) {
        gates(state, off, a, scratch);
        int gh = 3 * n;
        for (int i = 0; i < n; i++) {
            float r = Activation.sigmoid(scratch[i] + scratch[gh + i]);
            float z = Activation.sigmoid(scratch[n + i] + scratch[gh + n + i]);
            float c = Activation.tanh(scratch[2 * n + i] + r * scratch[gh + 2 * n + i]);
            float next = (1f - z) * c + z * state[off + i];
            state[off + i] = next;
            m[i] = next;
        }
    }
}
