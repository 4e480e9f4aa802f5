package io.lseq.core.model;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.Weights;
import io.lseq.core.math.Norm;

/** Reads a norm's tensors ({@code .weight}, plus {@code .bias} for layer norm) by the model's norm kind. */
final class Norms {
    private Norms() {}

    static Norm take(Weights w, String name, ModelConfig cfg) {
        int h = cfg.dModel();
        boolean rms = cfg.norm() == ModelConfig.Norm.RMS;
        float[] weight = w.take(name + ".weight", h);
        float[] bias = rms ? null : w.take(name + ".bias", h);
        return new Norm(rms, weight, bias, cfg.normEps());
    }
}
