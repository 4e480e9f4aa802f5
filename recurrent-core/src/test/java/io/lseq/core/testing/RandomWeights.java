package io.lseq.core.testing;

import io.lseq.core.format.DType;
import io.lseq.core.format.Tensor;
import io.lseq.core.format.Weights;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Weights that make up every tensor a model asks for: normal(0, 1/sqrt(fan_in)) matrices, norm
 * weights near 1, small biases, LRU parameters in the paper's ring. Optional tensors (biases
 * that may be absent) are absent. Records what it handed out, so a test can write it to disk.
 */
public final class RandomWeights extends Weights {
    private final SplittableRandom rnd;
    private final Map<String, Tensor> made = new LinkedHashMap<>();

    public RandomWeights(long seed) {
        super("random", Map.of());
        this.rnd = new SplittableRandom(seed);
    }

    /** Every tensor handed out, in order. */
    public Map<String, Tensor> tensors() {
        return made;
    }

    @Override
    protected Tensor remove(String name, int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] data = new float[n];
        int fanIn = shape.length > 1 ? shape[1] : shape[0];
        for (int i = 0; i < n; i++) {
            data[i] = value(name, fanIn);
        }
        Tensor t = new Tensor(name, DType.F32, shape.clone(), data);
        made.put(name, t);
        return t;
    }

    private float value(String name, int fanIn) {
        if (name.endsWith("nu_log")) {
            double r = 0.9 + 0.099 * rnd.nextDouble();
            return (float) Math.log(-Math.log(r));
        }
        if (name.endsWith("theta_log")) {
            return (float) Math.log(0.01 + Math.PI * rnd.nextDouble());
        }
        if (name.endsWith("gamma_log")) {
            return (float) Math.log(Math.sqrt(1 - 0.95 * 0.95));
        }
        if (name.endsWith("norm.weight") || name.endsWith("_scale")) {
            return (float) (1 + 0.1 * gaussian());
        }
        if (name.endsWith(".bias") || name.endsWith("_offset")) {
            return (float) (0.05 * gaussian());
        }
        return (float) (gaussian() / Math.sqrt(fanIn));
    }

    private double gaussian() {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }
}
