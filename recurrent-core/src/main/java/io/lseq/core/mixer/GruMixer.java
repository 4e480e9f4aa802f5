package io.lseq.core.mixer;

import io.lseq.core.format.Weights;
import io.lseq.core.math.Vec;

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

    /** In place in {@code gi}: r and z become their sigmoids, the candidate its tanh. */
    @Override
    void combine(float[] state, int off, float[] gi, int gio, float[] gh, int gho, float[] m) {
        Vec.sigmoidAdd(gi, gio, gh, gho, 2 * n);
        Vec.tanhFma(gi, gio, gh, gho + 2 * n, gi, gio + 2 * n, n);
        for (int i = 0; i < n; i++) {
            float z = gi[gio + n + i];
            float next = (1f - z) * gi[gio + 2 * n + i] + z * state[off + i];
            state[off + i] = next;
            m[i] = next;
        }
    }
}
