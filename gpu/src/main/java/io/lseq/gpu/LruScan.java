package io.lseq.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * The LRU recurrence on the GPU ({@code lru_scan.cu}): {@code h_t = lambda h_{t-1} + u_t} over
 * many keys' runs of rows at once, in place, one read and one write per element. Holds the
 * scan's scratch (tile counter, look-back flags and values), reused between calls.
 */
public final class LruScan implements AutoCloseable {
    /** Channels per tile and groups per block: CH and G in lru_scan.cu. */
    static final int CH = 32;
    static final int G = 8;
    /** The kernels of lru_scan.cu: events per thread, and the suffix of the register-capped variants. */
    static final String[] VARIANTS = {"l8", "l16", "l32", "l8_occ3", "l8_occ4"};

    private final CudaDevice dev;
    private final int l;
    private final String kernel;
    private final DeviceBuffer counter = new DeviceBuffer();
    private final DeviceBuffer flags = new DeviceBuffer();
    private final DeviceBuffer agg = new DeviceBuffer();
    private final DeviceBuffer incl = new DeviceBuffer();
    private final DeviceBuffer tileStart = new DeviceBuffer();

    /**
     * @param variant one of {@link #VARIANTS}: {@code l8}, {@code l16}, {@code l32} (events per
     *     thread; a time tile is 8 times that), {@code l8_occ3}, {@code l8_occ4} (8 events, fewer
     *     registers for 3 or 4 blocks per multiprocessor)
     */
    public LruScan(CudaDevice dev, String variant) {
        if (!java.util.Arrays.asList(VARIANTS).contains(variant)) {
            throw new IllegalArgumentException("scan variant must be one of " + String.join(", ", VARIANTS) + ", got "
                    + variant);
        }
        this.dev = dev;
        this.kernel = "lru_scan_" + variant;
        int end = variant.indexOf('_');
        this.l = Integer.parseInt(variant.substring(1, end < 0 ? variant.length() : end));
    }


    /** Events per time tile. */
    public int tile() {
        return G * l;
    }


    /**
     * {@code powers[g * n + i] = lambda_i^(g * L)} for g = 0 .. G as (re, im) pairs, from the
     * closed form {@code exp(k ln|lambda|) (cos k arg, sin k arg)} in double.
     */
    public double[] powers(double[] logModulus, double[] phase) {
        int n = logModulus.length;
        double[] p = new double[2 * (G + 1) * n];
        for (int g = 0; g <= G; g++) {
            for (int i = 0; i < n; i++) {
                double k = (double) g * l;
                double mod = Math.exp(k * logModulus[i]);
                p[2 * (g * n + i)] = mod * Math.cos(k * phase[i]);
                p[2 * (g * n + i) + 1] = mod * Math.sin(k * phase[i]);
            }
        }
        return p;
    }

    /**
     * Scans in place.
     *
     * @param u complex64 {@code [rows, n]}: in the inputs, out the states
     * @param h0 complex64 {@code [keys, n]}: each key's state before its first row
     * @param lambda complex128 {@code [n]}
     * @param powers complex128 {@code [G + 1, n]} from {@link #powers}, uploaded
     * @param rowStart device {@code int[keys + 1]}; {@code hostRowStart} the same on the host
     */
    public void run(CUdeviceptr u, CUdeviceptr h0, CUdeviceptr lambda, CUdeviceptr powers, CUdeviceptr rowStart,
            int[] hostRowStart, int keys, int n) {
        int[] ts = new int[keys + 1];
        int tile = tile();
        for (int k = 0; k < keys; k++) {
            int len = hostRowStart[k + 1] - hostRowStart[k];
            ts[k + 1] = ts[k] + (len + tile - 1) / tile;
        }
        int channelTiles = (n + CH - 1) / CH;
        long blocks = (long) ts[keys] * channelTiles;
        if (blocks == 0) {
            return;
        }
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many tiles for one launch: " + blocks);
        }
        tileStart.upload(ts, keys + 1);
        counter.reserve(4);
        counter.zero(1);
        flags.reserve(4 * blocks);
        flags.zero(blocks);
        agg.reserve(16 * blocks * CH);
        incl.reserve(16 * blocks * CH);
        dev.launch(kernel, (int) blocks, 1, CH, G, Kernels.p(u), Kernels.p(h0), Kernels.p(lambda),
                Kernels.p(powers), Kernels.p(rowStart), Kernels.p(tileStart.ptr()), Kernels.i(keys), Kernels.i(n),
                Kernels.i(channelTiles), Kernels.p(counter.ptr()), Kernels.p(flags.ptr()), Kernels.p(agg.ptr()),
                Kernels.p(incl.ptr()));
    }

    @Override
    public void close() {
        counter.close();
        flags.close();
        agg.close();
        incl.close();
        tileStart.close();
    }
}
