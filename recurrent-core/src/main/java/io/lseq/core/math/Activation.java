package io.lseq.core.math;

/** Scalar activations, each evaluated in double and rounded once to float. */
public final class Activation {
    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

    private Activation() {}

    /** The logistic function. */
    public static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    /** {@code x * sigmoid(x)}. */
    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** Hyperbolic tangent. */
    public static float tanh(float x) {
        return (float) Math.tanh(x);
    }

    /** Exact GELU, {@code x/2 (1 + erf(x/sqrt 2))}: PyTorch's default. */
    public static float geluErf(float x) {
        return (float) (0.5 * x * (2.0 - erfc(x * SQRT_HALF)));
    }

    /** The tanh approximation of GELU: JAX's default. */
    public static float geluTanh(float x) {
        double u = SQRT_2_OVER_PI * (x + 0.044715 * x * (double) x * x);
        return (float) (0.5 * x * (1.0 + Math.tanh(u)));
    }

    /**
     * Complementary error function with fractional error below 1.2e-7 everywhere (the Chebyshev
     * fit of Numerical Recipes, section 6.2): enough for float32, and GELU only needs
     * {@code 2 - erfc(-x)}, whose absolute error stays below 2.4e-7.
     */
    public static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }

    /** The error function, {@code 1 - erfc(x)}. */
    public static double erf(double x) {
        return 1.0 - erfc(x);
    }
}
