package io.lseq.gpu;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * The batch path of an LRU model on a CUDA device. A batch's events become rows, key after key;
 * every block runs over all rows at once: norm, the input product, the scan ({@link LruScan})
 * from each key's state, the output product, the GLU and MLP, then the head. Each key's state
 * comes from its {@link KeyState} and goes back to it, so a batch continues where the CPU left off
 * and the CPU continues where it stops.
 *
 * <p>Runs models whose blocks are all {@code lru} (any input, norm, post, MLP and head); see
 * {@link #unsupported}. Not thread-safe: one caller at a time.
 */
public final class GpuBatchScorer implements BatchBackend {
    /**
     * The scan kernel ({@link LruScan#VARIANTS}): 8 events per thread by default, chosen by
     * register use (no spill) until GpuBench scan has measured the variants on a GPU;
     * {@code -Dlseq.gpu.scan=VARIANT} picks another.
     */
    static final String SCAN_VARIANT = System.getProperty("lseq.gpu.scan", "l8");
    private final CudaDevice dev;
    private final Kernels k;
    private final LruScan scan;
    private final Model model;
    private final ModelConfig cfg;
    private final DeviceModel dm;
    private final int h;

    // Per-batch buffers, grown on demand.
    private final DeviceBuffer tokens = new DeviceBuffer();
    private final DeviceBuffer features = new DeviceBuffer();
    private final DeviceBuffer rowStart = new DeviceBuffer();
    private final DeviceBuffer lastRow = new DeviceBuffer();
    private final DeviceBuffer x = new DeviceBuffer();
    private final DeviceBuffer a = new DeviceBuffer();
    private final DeviceBuffer u = new DeviceBuffer();
    private final DeviceBuffer m = new DeviceBuffer();
    private final DeviceBuffer p1 = new DeviceBuffer();
    private final DeviceBuffer p2 = new DeviceBuffer();
    private final DeviceBuffer hidden = new DeviceBuffer();
    private final DeviceBuffer keyRows = new DeviceBuffer();
    private final DeviceBuffer keyRows2 = new DeviceBuffer();
    private final DeviceBuffer logits = new DeviceBuffer();
    private final DeviceBuffer out = new DeviceBuffer();
    /** Around the device work of the last call (after the input's upload, before the output's download). */
    private final jcuda.driver.CUevent spanStart = new jcuda.driver.CUevent();
    private final jcuda.driver.CUevent spanStop = new jcuda.driver.CUevent();
    private float lastDeviceMillis;
    /** Rows and keys of one pass over the device at most. */
    private final PassSize passes;

    /**
     * Why {@code cfg} cannot run here, or null when it can: the GPU backend runs LRU blocks only.
     */
    public static String unsupported(ModelConfig cfg) {
        for (int i = 0; i < cfg.blocks().size(); i++) {
            String type = cfg.blocks().get(i).mixer().type();
            if (!type.equals("lru")) {
                return "block " + i + " of model " + cfg.name() + " is " + type
                        + ": the GPU backend runs models whose blocks are all lru";
            }
        }
        return null;
    }

    /** Puts {@code model} (loaded on the CPU) on the device, with passes sized from its free memory. */
    public static GpuBatchScorer load(CudaDevice dev, Model model) {
        return new GpuBatchScorer(dev, model, PassSize.rowCap());
    }

    /**
     * With passes of at most {@code passRows} rows (tests: keys cut across passes).
     *
     * @throws IllegalArgumentException if {@link #unsupported} says so
     */
    GpuBatchScorer(CudaDevice dev, Model model, long passRows) {
        this.cfg = model.config();
        String why = unsupported(cfg);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        this.dev = dev;
        this.model = model;
        this.h = cfg.dModel();
        dev.use();
        this.k = new Kernels(dev);
        this.scan = new LruScan(dev, SCAN_VARIANT);
        jcuda.driver.JCudaDriver.cuEventCreate(spanStart, 0);
        jcuda.driver.JCudaDriver.cuEventCreate(spanStop, 0);
        this.dm = new DeviceModel(model, scan);
        long[] free = new long[1];
        long[] total = new long[1];
        jcuda.driver.JCudaDriver.cuMemGetInfo(free, total);
        this.passes = PassSize.of(dm, free[0], passRows, dev.describe());
    }

    @Override
    public String describe() {
        return "gpu, " + dev.describe();
    }

    /**
     * Milliseconds the device spent on the last {@link #score} call, from after the events'
     * upload to before the outputs' download (the per-block state copies included): what a
     * comparison with a framework that keeps its inputs and outputs on the device should use.
     */
    public float lastDeviceMillis() {
        return lastDeviceMillis;
    }

    /**
     * Scores the batch in passes over the device of at most {@link PassSize#maxRows} rows and
     * {@link PassSize#maxKeys} keys each, packed key after key; a key that does not fit in a pass goes on
     * in the next, from the state the last one left.
     */
    @Override
    public void score(List<Sequence> batch) {
        BatchScorer.validate(model, batch);
        dev.use();
        lastDeviceMillis = 0;
        int width = model.outputSize();
        List<Part> pass = new ArrayList<>();
        long rows = 0;
        for (Sequence s : batch) {
            for (int from = 0; from < s.length(); ) {
                if (rows == passes.maxRows() || pass.size() == passes.maxKeys()) {
                    pass(pass);
                    rows = 0;
                }
                int take = (int) Math.min(s.length() - from, passes.maxRows() - rows);
                pass.add(new Part(s, from, s.slice(from, from + take, width)));
                rows += take;
                from += take;
            }
        }
        if (!pass.isEmpty()) {
            pass(pass);
        }
    }

    /** Events {@code [from, from + slice.length())} of {@code whole}, as the sequence a pass scores. */
    private record Part(Sequence whole, int from, Sequence slice) {}

    /** One pass over the device; then the slices' outputs go back into their whole sequences. */
    private void pass(List<Part> parts) {
        rows(parts.stream().map(Part::slice).toList());
        for (Part p : parts) {
            p.slice().copyOutTo(p.whole(), p.from(), model.outputSize());
        }
        parts.clear();
    }

    /** Every block over all rows of {@code seqs} (none empty; they fit a pass). */
    private void rows(List<Sequence> seqs) {
        int keys = seqs.size();
        int[] starts = new int[keys + 1];
        int[] last = new int[keys];
        for (int i = 0; i < keys; i++) {
            starts[i + 1] = starts[i] + seqs.get(i).length();
            last[i] = starts[i + 1] - 1;
        }
        int rows = starts[keys];
        rowStart.upload(starts, keys + 1);
        lastRow.upload(last, keys);
        x.reserve(4L * rows * h);
        a.reserve(4L * rows * h);
        input(seqs, rows);
        for (DeviceModel.Block b : dm.blocks) {
            block(b, seqs, rows, keys);
        }
        head(seqs, rows, keys);
        for (Sequence s : seqs) {
            s.state().advance(s.length());
        }
    }

    private void input(List<Sequence> seqs, int rows) {
        ModelConfig.Input in = cfg.input();
        if (in.tokens()) {
            int[] t = new int[rows];
            int r = 0;
            for (Sequence s : seqs) {
                System.arraycopy(s.tokens(), 0, t, r, s.length());
                r += s.length();
            }
            tokens.upload(t, rows);
            jcuda.driver.JCudaDriver.cuEventRecord(spanStart, null);
            k.embed(tokens.ptr(), dm.embed, x.ptr(), rows, h);
        } else {
            int f = in.dim();
            float[] v = new float[rows * f];
            int r = 0;
            for (Sequence s : seqs) {
                for (float[] row : s.features()) {
                    System.arraycopy(row, 0, v, r * f, f);
                    r++;
                }
            }
            features.upload(v, rows * f);
            jcuda.driver.JCudaDriver.cuEventRecord(spanStart, null);
            k.gemm(features.ptr(), dm.inW, dm.inB, x.ptr(), rows, f, h);
        }
    }

    private void block(DeviceModel.Block b, List<Sequence> seqs, int rows, int keys) {
        int n = b.n;
        long rh = (long) rows * h;
        k.norm(x.ptr(), b.normW, b.normB, a.ptr(), rows, h, cfg.normEps());
        k.gemm(a.ptr(), b.bStacked, null, u.reserve(8L * rows * n), rows, h, 2 * n);
        // Each key's state (re[N], im[N] in the KeyState) as complex64 [keys, N].
        float[] h0 = new float[keys * 2 * n];
        for (int i = 0; i < keys; i++) {
            float[] st = seqs.get(i).state().values();
            for (int c = 0; c < n; c++) {
                h0[i * 2 * n + 2 * c] = st[b.stateOffset + c];
                h0[i * 2 * n + 2 * c + 1] = st[b.stateOffset + n + c];
            }
        }
        scan.run(u.ptr(), keyRows.upload(h0, h0.length), b.lambda, b.powers, rowStart.ptr(), startsOf(seqs), keys, n);
        k.gatherRows(u.ptr(), lastRow.ptr(), keyRows2.reserve(8L * keys * n), keys, 2 * n);
        keyRows2.download(h0, h0.length);
        for (int i = 0; i < keys; i++) {
            float[] st = seqs.get(i).state().values();
            for (int c = 0; c < n; c++) {
                st[b.stateOffset + c] = h0[i * 2 * n + 2 * c];
                st[b.stateOffset + n + c] = h0[i * 2 * n + 2 * c + 1];
            }
        }
        k.gemm(u.ptr(), b.cStacked, null, m.reserve(4 * rh), rows, 2 * n, h);
        k.skipAdd(m.ptr(), a.ptr(), b.d, rows, h);
        if (b.glu) {
            k.gelu(m.ptr(), rh, cfg.gelu() == io.lseq.core.math.Gelu.TANH);
            k.gemm(m.ptr(), b.out1W, b.out1B, p1.reserve(4 * rh), rows, h, h);
            k.gemm(m.ptr(), b.out2W, b.out2B, p2.reserve(4 * rh), rows, h, h);
            k.gluAdd(x.ptr(), p1.ptr(), p2.ptr(), rh);
        } else {
            k.add(x.ptr(), m.ptr(), rh);
        }
        if (b.mlpHidden > 0) {
            k.norm(x.ptr(), b.mlpNormW, b.mlpNormB, a.ptr(), rows, h, cfg.normEps());
            k.gemm(a.ptr(), b.fc1W, b.fc1B, hidden.reserve(4L * rows * b.mlpHidden), rows, h, b.mlpHidden);
            k.gelu(hidden.ptr(), (long) rows * b.mlpHidden, cfg.gelu() == io.lseq.core.math.Gelu.TANH);
            k.gemm(hidden.ptr(), b.fc2W, b.fc2B, p1.reserve(4 * rh), rows, b.mlpHidden, h);
            k.add(x.ptr(), p1.ptr(), rh);
        }
    }

    private static int[] startsOf(List<Sequence> seqs) {
        int[] starts = new int[seqs.size() + 1];
        for (int i = 0; i < seqs.size(); i++) {
            starts[i + 1] = starts[i] + seqs.get(i).length();
        }
        return starts;
    }

    private void head(List<Sequence> seqs, int rows, int keys) {
        CUdeviceptr y = x.ptr();
        if (dm.predictive()) {
            // Event t is scored from y_{t-1}: the key's stored y for its first event.
            float[] prev = new float[keys * h];
            for (int i = 0; i < keys; i++) {
                System.arraycopy(seqs.get(i).state().values(), model.headStateOffset(), prev, i * h, h);
            }
            k.shiftRows(x.ptr(), keyRows.upload(prev, prev.length), rowStart.ptr(), keys, p1.reserve(4L * rows * h),
                    rows, h);
            k.gatherRows(x.ptr(), lastRow.ptr(), keyRows2.reserve(4L * keys * h), keys, h);
            keyRows2.download(prev, prev.length);
            for (int i = 0; i < keys; i++) {
                System.arraycopy(prev, i * h, seqs.get(i).state().values(), model.headStateOffset(), h);
            }
            y = p1.ptr();
        }
        k.norm(y, dm.finalW, dm.finalB, a.ptr(), rows, h, cfg.normEps());
        int width = model.outputSize();
        out.reserve(4L * rows * width);
        int headOut = dm.headOut;
        int chunk = (int) Math.max(64, Math.min(rows, PassSize.HEAD_FLOATS / headOut));
        logits.reserve(4L * Math.min(rows, chunk) * headOut);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int cr = Math.min(chunk, rows - r0);
            CUdeviceptr in = a.ptr().withByteOffset(4L * r0 * h);
            switch (cfg.head().type()) {
                case NEXT_TOKEN -> {
                    k.gemm(in, dm.headW, dm.headB, logits.ptr(), cr, h, headOut);
                    k.surprisal(logits.ptr(), tokens.ptr().withByteOffset(4L * r0), out.ptr().withByteOffset(4L * r0),
                            cr, headOut);
                }
                case CLASSES -> {
                    CUdeviceptr o = out.ptr().withByteOffset(4L * r0 * headOut);
                    k.gemm(in, dm.headW, dm.headB, o, cr, h, headOut);
                    k.softmax(o, cr, headOut);
                }
                default -> {
                    k.gemm(in, dm.headW, dm.headB, logits.ptr(), cr, h, headOut);
                    k.mse(logits.ptr(), features.ptr().withByteOffset(4L * r0 * headOut),
                            out.ptr().withByteOffset(4L * r0), cr, headOut);
                }
            }
        }
        jcuda.driver.JCudaDriver.cuEventRecord(spanStop, null);
        float[] host = new float[rows * width];
        out.download(host, rows * width);
        float[] ms = new float[1];
        jcuda.driver.JCudaDriver.cuEventElapsedTime(ms, spanStart, spanStop);
        lastDeviceMillis += ms[0];
        int r = 0;
        for (Sequence s : seqs) {
            if (s.out() != null) {
                System.arraycopy(host, r * width, s.out(), 0, s.length() * width);
            }
            r += s.length();
        }
    }

    @Override
    public void close() {
        dev.use();
        dm.close();
        for (DeviceBuffer b : new DeviceBuffer[] {tokens, features, rowStart, lastRow, x, a, u, m, p1, p2, hidden,
            keyRows, keyRows2, logits, out}) {
            b.close();
        }
        scan.close();
        jcuda.driver.JCudaDriver.cuEventDestroy(spanStart);
        jcuda.driver.JCudaDriver.cuEventDestroy(spanStop);
    }
}
