package io.lseq.gpu;

/**
 * How much of a batch one pass over the device takes: at most {@code maxRows} rows (events) and
 * {@code maxKeys} keys, sized from the memory free after the weights.
 *
 * <p>Device buffers keep the largest size any pass gave them, so passes are sized against all of
 * them at once: they never hold more than 3/4 of the free memory; a quarter of that goes to the
 * buffers sized by keys ({@link #keyBytes} a key), the rest to those sized by rows
 * ({@link #rowBytes} a row, and the head's logits for a chunk of rows at a time). Rows *
 * {@link #widestRow} stay within an int for the host arrays.
 */
record PassSize(long maxRows, long maxKeys) {
    /** Passes of at least this many rows, or the GPU is refused at load. */
    static final long MIN_ROWS = 64;
    /** Floats of logits at once for the head (1 GiB). */
    static final long HEAD_FLOATS = 1L << 28;

    /**
     * @param freeBytes device memory free after the weights
     * @param rowCap a cap on the rows of a pass ({@link #rowCap()}), or {@code Long.MAX_VALUE}
     * @throws GpuUnavailableException if a pass of {@link #MIN_ROWS} rows does not fit
     */
    static PassSize of(DeviceModel m, long freeBytes, long rowCap, String device) {
        long budget = freeBytes / 4 * 3;
        long keyBytes = keyBytes(m);
        long rowBytes = rowBytes(m);
        long maxKeys = Math.max(1, budget / 4 / keyBytes);
        long forRows = budget - maxKeys * keyBytes;
        long headChunk = Math.max(64, HEAD_FLOATS / m.headOut);
        long fit = forRows / (rowBytes + 4L * m.headOut);
        if (fit > headChunk) {
            fit = (forRows - 4L * m.headOut * headChunk) / rowBytes;
        }
        if (fit < Math.min(MIN_ROWS, rowCap)) {
            throw new GpuUnavailableException(device + " has " + (freeBytes >> 20) + " MB free after the weights: too "
                    + "little for passes of " + MIN_ROWS + " events at " + (rowBytes + 4L * m.headOut) + " bytes each");
        }
        return new PassSize(Math.min(Math.min(fit, rowCap), Integer.MAX_VALUE / widestRow(m)), maxKeys);
    }

    /** {@code -Dlseq.gpu.maxRows=N}: a cap on the rows of a pass (tests), else none. */
    static long rowCap() {
        String v = System.getProperty("lseq.gpu.maxRows");
        if (v == null) {
            return Long.MAX_VALUE;
        }
        try {
            long n = Long.parseLong(v.strip());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException("-Dlseq.gpu.maxRows must be a positive integer, got '" + v + "'");
    }

    /**
     * Device bytes a row takes, summed over the buffers sized by rows, each at its widest over
     * the blocks: x, a, m, p1, p2, u, the MLP's hidden row, input, output, and the scan's
     * look-back for 64-row tiles (the shortest).
     */
    private static long rowBytes(DeviceModel m) {
        long n = m.widestState();
        int input = m.cfg.input().tokens() ? 1 : m.cfg.input().dim();
        return 4L * (5 * m.h + input + m.model.outputSize()) + 8 * n + 4L * m.widestMlp()
                + tileBytes(channelTiles(n)) / (LruScan.G * 8);
    }

    /**
     * Device bytes a key takes in the buffers sized by keys: its state in and out (or the head's
     * row), its row bounds and scan tile start, and one partial tile of the scan's look-back.
     */
    private static long keyBytes(DeviceModel m) {
        long n = m.widestState();
        return 2 * Math.max(8 * n, 4L * m.h) + 12 + tileBytes(channelTiles(n));
    }

    private static long channelTiles(long n) {
        return (n + LruScan.CH - 1) / LruScan.CH;
    }

    /** Device bytes the scan's look-back takes per tile of every channel tile: flag, aggregate, prefix. */
    private static long tileBytes(long channelTiles) {
        return channelTiles * (4 + 2 * 16 * LruScan.CH);
    }

    /** The most floats a row has in any host array of a call: rows * this must fit an int. */
    private static int widestRow(DeviceModel m) {
        int input = m.cfg.input().tokens() ? 1 : m.cfg.input().dim();
        int w = Math.max(m.h, Math.max(m.model.outputSize(), input));
        return Math.max(w, Math.max(2 * m.widestState(), m.widestMlp()));
    }
}
