package io.lseq.core.math;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Vector API kernels against the scalar loops they replace: products of every shape class
 * (full tiles, single vectors, scalar tails; odd row counts), log-sum-exp, GLU and GELU.
 */
class VectorKernelsTest {
    @Test
    void theTestsRunWithTheVectorKernels() {
        // The build adds --add-modules jdk.incubator.vector to the tests' JVM; the scalar
        // fallback is exercised by the goldens' second run (-Dlseq.vector=false).
        assertEquals(!"false".equals(System.getProperty("lseq.vector")), VectorSwitch.ON);
    }

    @ParameterizedTest
    @CsvSource({"64,64", "256,64", "64,256", "512,64", "17,5", "3,40", "80,7", "96,33"})
    void productsMatchTheScalarLoops(int out, int in) {
        assumeTrue(VectorSwitch.ON);
        SplittableRandom rnd = new SplittableRandom(out * 31L + in);
        float[] w = new float[out * in];
        float[] b = new float[out];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < out; i++) {
            b[i] = (float) rnd.nextGaussian();
        }
        for (float[] bias : new float[][] {null, b}) {
            Linear lin = new Linear(out, in, w, bias);
            int rows = 5;
            float[][] x = new float[rows][in + 3];
            for (float[] r : x) {
                for (int j = 0; j < r.length; j++) {
                    r[j] = (float) rnd.nextGaussian();
                }
            }
            float[] want = new float[out + 2];
            float[] got = new float[out + 2];
            lin.applyScalar(x[0], 3, want, 2);
            lin.apply(x[0], 3, got, 2);
            assertClose(want, got, in);
            float[][] yWant = new float[rows][out];
            float[][] yGot = new float[rows][out];
            lin.applyRowsScalar(x, yWant, 0, rows);
            lin.applyRows(x, yGot, 0, rows);
            for (int t = 0; t < rows; t++) {
                assertClose(yWant[t], yGot[t], in);
            }
        }
    }

    @Test
    void elementwiseKernelsMatchTheScalarLoops() {
        assumeTrue(VectorSwitch.ON);
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : new int[] {512, 64, 37, 3}) {
            float[] v = new float[n + 1];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (8 * rnd.nextGaussian());
            }
            float[] w = new float[n + 2];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian();
            }
            double d = 0;
            for (int i = 0; i < n; i++) {
                d += (double) v[1 + i] * w[2 + i];
            }
            assertEquals(d, VectorKernels.dot(v, 1, w, 2, n), 1e-5 * Math.sqrt(n) * 8);
            double lse = 0;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 1; i <= n; i++) {
                max = Math.max(max, v[i]);
            }
            for (int i = 1; i <= n; i++) {
                lse += Math.exp(v[i] - max);
            }
            assertEquals(max + Math.log(lse), VectorKernels.logSumExp(v.clone(), 1, n), 1e-5);

            float[] x = new float[n];
            float[] p1 = new float[n];
            float[] p2 = new float[n];
            float[] x2 = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = x2[i] = (float) rnd.nextGaussian();
                p1[i] = (float) rnd.nextGaussian();
                p2[i] = (float) (4 * rnd.nextGaussian());
            }
            VectorKernels.glu(x, p1, p2.clone(), n);
            for (int i = 0; i < n; i++) {
                assertEquals(x2[i] + p1[i] * Activation.sigmoid(p2[i]), x[i], 1e-6f);
            }
            float[] g = v.clone();
            VectorKernels.geluErf(g, 1, n, new float[n]);
            for (int i = 1; i <= n; i++) {
                float want = Activation.geluErf(v[i]);
                assertEquals(want, g[i], 3e-7f * Math.max(1, Math.abs(v[i])), "gelu(" + v[i] + ")");
            }
        }
    }

    @Test
    void expGivesTheSameBitsInVectorsAndScalarsWithin3UlpOfMathExp() {
        assumeTrue(VectorSwitch.ON);
        SplittableRandom rnd = new SplittableRandom(9);
        float[] x = new float[VectorKernels.lanes() * 3];
        for (int round = 0; round < 20_000; round++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextDouble() * 180 - 90);
            }
            float[] v = x.clone();
            VectorKernels.expShifted(v, 0, v.length, 0f);
            for (int i = 0; i < x.length; i++) {
                float s = VectorKernels.exp(x[i]);
                assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(v[i]), "exp(" + x[i] + ")");
                if (x[i] > -87 && x[i] < 88.7f) {
                    float m = (float) Math.exp(x[i]);
                    assertTrue(Math.abs(s - m) <= 3 * Math.ulp(m), "exp(" + x[i] + ") = " + s + ", Math.exp " + m);
                }
            }
        }
    }

    /**
     * The same inputs give the same bits on the first call (interpreted) and after 30,000 more
     * (compiled by C2, with its intrinsics): scores must not depend on the JIT's progress.
     */
    @Test
    void sameBitsBeforeAndAfterTheJit() {
        assumeTrue(VectorSwitch.ON);
        SplittableRandom rnd = new SplittableRandom(11);
        float[] v = new float[517];
        float[] w = new float[517];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (6 * rnd.nextGaussian());
            w[i] = (float) rnd.nextGaussian();
        }
        float[] first = kernels(v, w);
        float[] last = first;
        for (int i = 0; i < 30_000; i++) {
            last = kernels(v, w);
        }
        for (int i = 0; i < first.length; i++) {
            assertEquals(Float.floatToRawIntBits(first[i]), Float.floatToRawIntBits(last[i]), "output " + i);
        }
    }

    private static float[] kernels(float[] v, float[] w) {
        float[] out = new float[5 + v.length * 2];
        out[0] = (float) VectorKernels.logSumExp(v.clone(), 0, 512);
        out[1] = (float) VectorKernels.logSumExp(v.clone(), 3, 37);
        out[2] = VectorKernels.dot(v, 1, w, 2, 16);
        out[3] = VectorKernels.dot(v, 0, w, 0, 45);
        float[] g = v.clone();
        VectorKernels.geluErf(g, 0, v.length, new float[v.length]);
        System.arraycopy(g, 0, out, 5, v.length);
        float[] sm = v.clone();
        VectorKernels.softmax(sm, 0, 256);
        float[] x = w.clone();
        VectorKernels.glu(x, w, v.clone(), v.length);
        for (int i = 0; i < v.length; i++) {
            out[5 + v.length + i] = i < 256 ? sm[i] : x[i];
        }
        return out;
    }

    /** FMA rounds once where the scalar loop rounds twice: sums of {@code in} terms agree closely. */
    private static void assertClose(float[] want, float[] got, int in) {
        for (int i = 0; i < want.length; i++) {
            float tol = 1e-6f * (float) Math.sqrt(in) * Math.max(1, Math.abs(want[i]));
            assertTrue(Math.abs(want[i] - got[i]) <= tol, i + ": " + want[i] + " vs " + got[i]);
        }
    }
}
