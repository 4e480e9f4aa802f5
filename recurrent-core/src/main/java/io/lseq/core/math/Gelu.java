package io.lseq.core.math;

/** The GELU a model uses, applied in place over a range. */
public enum Gelu {
    /** Exact GELU with erf. */
    ERF,
    /** The tanh approximation. */
    TANH;

    /**
     * {@code v[off..off+n) = gelu(v[off..off+n))}.
     *
     * @param scratch at least {@code n} floats, contents undefined on entry and after
     */
    public void apply(float[] v, int off, int n, float[] scratch) {
        if (this == ERF && VectorSwitch.ON) {
            VectorKernels.geluErf(v, off, n, scratch);
        } else if (this == ERF) {
            for (int i = off; i < off + n; i++) {
                v[i] = Activation.geluErf(v[i]);
            }
        } else {
            for (int i = off; i < off + n; i++) {
                v[i] = Activation.geluTanh(v[i]);
            }
        }
    }
}
