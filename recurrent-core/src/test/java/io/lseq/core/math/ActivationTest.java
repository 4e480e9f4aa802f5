package io.lseq.core.math;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ActivationTest {
    /** erf by its Maclaurin series, accurate to ~1e-13 for |x| <= 3. */
    private static double erfSeries(double x) {
        double sum = 0;
        double term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    @Test
    void erfIsAccurateEnoughForFloat32() {
        for (double x = -3; x <= 3; x += 0.001) {
            assertEquals(erfSeries(x), Activation.erf(x), 2.5e-7, "x=" + x);
        }
        assertEquals(1.0, Activation.erf(10), 1e-12);
        assertEquals(-1.0, Activation.erf(-10), 1e-12);
    }

    @Test
    void geluMatchesItsDefinitions() {
        for (float x = -8f; x <= 8f; x += 0.01f) {
            double exact = 0.5 * x * (1 + erfSeriesOrTail(x / Math.sqrt(2)));
            assertEquals(exact, Activation.geluErf(x), 1e-6 + 1e-6 * Math.abs(exact), "x=" + x);
            double tanh = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            assertEquals(tanh, Activation.geluTanh(x), 1e-6 + 1e-6 * Math.abs(tanh), "x=" + x);
        }
    }

    private static double erfSeriesOrTail(double x) {
        return Math.abs(x) <= 3 ? erfSeries(x) : Math.signum(x) * (1 - Activation.erfc(Math.abs(x)));
    }

    @Test
    void ropeRotatesHalves() {
        Rope rope = new Rope(4, 10000);
        float[] cos = new float[2];
        float[] sin = new float[2];
        rope.angles(3, cos, 0, sin, 0);
        float[] u = {1, 2, 3, 4};
        rope.rotate(u, 0, cos, 0, sin, 0);
        // j=0: angle 3; j=1: angle 3 * 10000^(-1/2) = 0.03.
        assertEquals(1 * Math.cos(3) - 3 * Math.sin(3), u[0], 1e-6);
        assertEquals(3 * Math.cos(3) + 1 * Math.sin(3), u[2], 1e-6);
        assertEquals(2 * Math.cos(0.03) - 4 * Math.sin(0.03), u[1], 1e-6);
        assertEquals(4 * Math.cos(0.03) + 2 * Math.sin(0.03), u[3], 1e-6);
    }
}
