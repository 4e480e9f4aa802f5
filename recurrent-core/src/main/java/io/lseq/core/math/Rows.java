package io.lseq.core.math;

import java.util.Arrays;

/** Row buffers ({@code float[rows][width]}) that grow to the largest batch seen and are reused. */
public final class Rows {
    private Rows() {}

    /**
     * {@code rows} if it has at least {@code n} rows, else a larger array (twice the old size, or
     * {@code n}) keeping the old rows and adding new ones of {@code width} floats.
     */
    public static float[][] atLeast(float[][] rows, int n, int width) {
        // The check alone, small enough for C2 to inline into every caller's hot path.
        return rows.length >= n ? rows : grow(rows, n, width);
    }

    private static float[][] grow(float[][] rows, int n, int width) {
        float[][] grown = Arrays.copyOf(rows, Math.max(n, 2 * rows.length));
        for (int i = rows.length; i < grown.length; i++) {
            grown[i] = new float[width];
        }
        return grown;
    }
}
