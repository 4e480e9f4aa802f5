package io.lseq.gpu;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.format.SafeTensors;
import io.lseq.core.format.Weights;
import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.nio.file.Path;
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
    /** Floats of logits at once for the head (1 GiB). */
    private static final long HEAD_FLOATS = 1L << 28;

    private final CudaDevice dev;
    private final Kernels k;
    private final LruScan scan;
    private final Model model;
    private final ModelConfig cfg;
    private final int h;
    private final List<DeviceBuffer> weights = new ArrayList<>();
    private final CUdeviceptr embed;
    private final CUdeviceptr inW;
    private final CUdeviceptr inB;
    private final LruBlock[] blocks;
    private final CUdeviceptr finalW;
    private final CUdeviceptr finalB;
    private final CUdeviceptr headW;
    private final CUdeviceptr headB;
    private final int headOut;
    private final int headStateOffset;

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
    /** Rows (events) of one pass over the device at most ({@link #sizePasses}). */
    private long maxRows;
    /** Keys of one pass at most ({@link #sizePasses}). */
    private long maxKeys;

    /** One LRU block's weights on the device. */
    private static final class LruBlock {
        int n;
        int stateOffset;
        int mlpHidden;
        boolean glu;
        CUdeviceptr normW, normB, bStacked, cStacked, lambda, powers, d;
        CUdeviceptr out1W, out1B, out2W, out2B, mlpNormW, mlpNormB, fc1W, fc1B, fc2W, fc2B;
    }

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

    /** Loads the weights of the model in {@code dir} (already loaded on the CPU as {@code model}). */
    public static GpuBatchScorer load(CudaDevice dev, Path dir, Model model) {
        return load(dev, dir, model, rowCap());
    }

    /** {@link #load} with passes of at most {@code passRows} rows (tests: keys cut across passes). */
    static GpuBatchScorer load(CudaDevice dev, Path dir, Model model, long passRows) {
        Path file = dir.resolve("model.safetensors");
        return new GpuBatchScorer(dev, model, new Weights(file.toString(), SafeTensors.read(file)), passRows);
    }

    /**
     * @param model the model on the CPU: its config, state layout and fresh states
     * @param w the same model's tensors (each is taken once)
     * @throws IllegalArgumentException if {@link #unsupported} says so
     */
    public GpuBatchScorer(CudaDevice dev, Model model, Weights w) {
        this(dev, model, w, rowCap());
    }

    /** With passes of at most {@code passRows} rows (tests: keys cut across passes). */
    GpuBatchScorer(CudaDevice dev, Model model, Weights w, long passRows) {
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
        ModelConfig.Input in = cfg.input();
        float[] embedding = null;
        if (in.tokens()) {
            embedding = w.take("embed.weight", in.vocabSize(), h);
            embed = put(embedding);
            inW = null;
            inB = null;
        } else {
            embed = null;
            inW = put(w.take("input_proj.weight", h, in.dim()));
            inB = put(w.take("input_proj.bias", h));
        }
        blocks = new LruBlock[cfg.blocks().size()];
        int off = 0;
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = block(w, i, off);
            off += 2 * blocks[i].n;
        }
        headStateOffset = off;
        finalW = put(w.take("final_norm.weight", h));
        finalB = cfg.norm() == ModelConfig.Norm.LAYER ? put(w.take("final_norm.bias", h)) : null;
        ModelConfig.Head hc = cfg.head();
        switch (hc.type()) {
            case NEXT_TOKEN -> {
                headOut = in.vocabSize();
                headW = hc.tieEmbeddings() ? embed : put(w.take("head.weight", headOut, h));
                float[] bias = w.takeOptional("head.bias", headOut);
                headB = bias == null ? null : put(bias);
            }
            case CLASSES -> {
                headOut = hc.numClasses();
                headW = put(w.take("head.weight", headOut, h));
                headB = put(w.take("head.bias", headOut));
            }
            default -> {
                headOut = hc.dim();
                headW = put(w.take("head.weight", headOut, h));
                headB = put(w.take("head.bias", headOut));
            }
        }
        w.requireAllTaken();
        sizePasses(passRows);
        if (headStateOffset + (predictive() ? h : 0) != model.stateSize()) {
            throw new IllegalStateException("state layout: GPU " + (headStateOffset + (predictive() ? h : 0))
                    + " floats, model " + model.stateSize());
        }
    }

    private boolean predictive() {
        return cfg.head().type() != ModelConfig.HeadType.CLASSES;
    }

    private CUdeviceptr put(float[] v) {
        DeviceBuffer b = new DeviceBuffer();
        weights.add(b);
        return b.upload(v, v.length);
    }

    private CUdeviceptr put(double[] v) {
        DeviceBuffer b = new DeviceBuffer();
        weights.add(b);
        return b.upload(v);
    }

    private LruBlock block(Weights w, int i, int stateOffset) {
        ModelConfig.Block bc = cfg.blocks().get(i);
        String p = "blocks." + i + ".";
        String mp = p + "mixer.";
        int n = ((ModelConfig.Lru) bc.mixer()).dState();
        LruBlock b = new LruBlock();
        b.n = n;
        b.stateOffset = stateOffset;
        boolean layer = cfg.norm() == ModelConfig.Norm.LAYER;
        b.normW = put(w.take(p + "norm.weight", h));
        b.normB = layer ? put(w.take(p + "norm.bias", h)) : null;
        float[] nuLog = w.take(mp + "nu_log", n);
        float[] thetaLog = w.take(mp + "theta_log", n);
        float[] gammaLog = w.take(mp + "gamma_log", n);
        float[] bRe = w.take(mp + "B_re", n, h);
        float[] bIm = w.take(mp + "B_im", n, h);
        float[] cRe = w.take(mp + "C_re", h, n);
        float[] cIm = w.take(mp + "C_im", h, n);
        b.d = put(w.take(mp + "D", h));
        // Rows 2i, 2i+1 of B: gamma_i (B_re[i], B_im[i]), so one product gives u as complex64 [N].
        float[] bs = new float[2 * n * h];
        // Columns 2i, 2i+1 of C: (C_re[:, i], -C_im[:, i]), so one product of h gives Re(C h).
        float[] cs = new float[h * 2 * n];
        double[] lambda = new double[2 * n];
        double[] logMod = new double[n];
        double[] phase = new double[n];
        for (int c = 0; c < n; c++) {
            double mod = io.lseq.core.mixer.LruMixer.modulus(nuLog[c]);
            phase[c] = Math.exp(thetaLog[c]);
            logMod[c] = Math.log(mod);
            lambda[2 * c] = mod * Math.cos(phase[c]);
            lambda[2 * c + 1] = mod * Math.sin(phase[c]);
            float gamma = (float) Math.exp(gammaLog[c]);
            for (int j = 0; j < h; j++) {
                bs[(2 * c) * h + j] = gamma * bRe[c * h + j];
                bs[(2 * c + 1) * h + j] = gamma * bIm[c * h + j];
            }
            for (int o = 0; o < h; o++) {
                cs[o * 2 * n + 2 * c] = cRe[o * n + c];
                cs[o * 2 * n + 2 * c + 1] = -cIm[o * n + c];
            }
        }
        b.bStacked = put(bs);
        b.cStacked = put(cs);
        b.lambda = put(lambda);
        b.powers = put(scan.powers(logMod, phase));
        b.glu = bc.post() == ModelConfig.Post.GLU;
        if (b.glu) {
            b.out1W = put(w.take(p + "out1.weight", h, h));
            b.out1B = put(w.take(p + "out1.bias", h));
            b.out2W = put(w.take(p + "out2.weight", h, h));
            b.out2B = put(w.take(p + "out2.bias", h));
        }
        b.mlpHidden = bc.mlpHidden();
        if (b.mlpHidden > 0) {
            int m2 = b.mlpHidden;
            b.mlpNormW = put(w.take(p + "mlp_norm.weight", h));
            b.mlpNormB = layer ? put(w.take(p + "mlp_norm.bias", h)) : null;
            b.fc1W = put(w.take(p + "mlp.fc1.weight", m2, h));
            b.fc1B = put(w.take(p + "mlp.fc1.bias", m2));
            b.fc2W = put(w.take(p + "mlp.fc2.weight", h, m2));
            b.fc2B = put(w.take(p + "mlp.fc2.bias", h));
        }
        return b;
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
     * Scores the batch in passes over the device of at most {@link #maxRows} rows and
     * {@link #maxKeys} keys each, packed key after key; a key that does not fit in a pass goes on
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
                if (rows == maxRows || pass.size() == maxKeys) {
                    pass(pass);
                    rows = 0;
                }
                int take = (int) Math.min(s.length() - from, maxRows - rows);
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

    /** Every block over all rows of {@code seqs} (none empty; they fit {@link #maxRows}). */
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
        for (LruBlock b : blocks) {
            block(b, seqs, rows, keys);
        }
        head(seqs, rows, keys);
        for (Sequence s : seqs) {
            s.state().advance(s.length());
        }
    }

    /** Passes of at least this many rows, or the GPU is refused at load. */
    private static final long MIN_PASS_ROWS = 64;

    /** {@code -Dlseq.gpu.maxRows=N}: a cap on the rows of a pass (tests), else none. */
    private static long rowCap() {
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
     * Sizes the passes so that the device buffers, which keep the largest size any pass gave
     * them, never hold more than 3/4 of the memory free after the weights: a quarter of that for
     * the buffers sized by keys ({@link #keyBytes} a key), the rest for those sized by rows
     * ({@link #rowBytes} a row, and the head's logits for a chunk of rows at a time). Rows *
     * {@link #widestRow} stay within an int for the host arrays; {@code rowCap} caps the rows.
     *
     * @throws GpuUnavailableException if a pass of {@link #MIN_PASS_ROWS} rows does not fit
     */
    private void sizePasses(long rowCap) {
        long[] free = new long[1];
        long[] total = new long[1];
        jcuda.driver.JCudaDriver.cuMemGetInfo(free, total);
        long budget = free[0] / 4 * 3;
        long keyBytes = keyBytes();
        long rowBytes = rowBytes();
        maxKeys = Math.max(1, budget / 4 / keyBytes);
        long forRows = budget - maxKeys * keyBytes;
        long headChunk = Math.max(64, HEAD_FLOATS / headOut);
        long fit = forRows / (rowBytes + 4L * headOut);
        if (fit > headChunk) {
            fit = (forRows - 4L * headOut * headChunk) / rowBytes;
        }
        if (fit < Math.min(MIN_PASS_ROWS, rowCap)) {
            throw new GpuUnavailableException(dev.describe() + " has " + (free[0] >> 20) + " MB free after the "
                    + "weights: too little for passes of " + MIN_PASS_ROWS + " events at " + (rowBytes + 4L * headOut)
                    + " bytes each");
        }
        maxRows = Math.min(Math.min(fit, rowCap), Integer.MAX_VALUE / widestRow());
    }

    /**
     * Device bytes a row takes, summed over the buffers sized by rows, each at its widest over
     * the blocks: x, a, m, p1, p2, u, the MLP's hidden row, input, output, and the scan's
     * look-back for 64-row tiles (the shortest).
     */
    private long rowBytes() {
        long n = widestState();
        long mlp = 0;
        for (LruBlock b : blocks) {
            mlp = Math.max(mlp, b.mlpHidden);
        }
        return 4L * (5 * h + (cfg.input().tokens() ? 1 : cfg.input().dim()) + model.outputSize()) + 8 * n + 4 * mlp
                + tileBytes(channelTiles(n)) / (LruScan.G * 8);
    }

    /**
     * Device bytes a key takes in the buffers sized by keys: its state in and out (or the head's
     * row), its row bounds and scan tile start, and one partial tile of the scan's look-back.
     */
    private long keyBytes() {
        long n = widestState();
        return 2 * Math.max(8 * n, 4L * h) + 12 + tileBytes(channelTiles(n));
    }

    /** The largest d_state over the blocks. */
    private long widestState() {
        long n = 0;
        for (LruBlock b : blocks) {
            n = Math.max(n, b.n);
        }
        return n;
    }

    private static long channelTiles(long n) {
        return (n + LruScan.CH - 1) / LruScan.CH;
    }

    /** Device bytes the scan's look-back takes per tile of every channel tile: flag, aggregate, prefix. */
    private static long tileBytes(long channelTiles) {
        return channelTiles * (4 + 2 * 16 * LruScan.CH);
    }

    /** The most floats a row has in any host array of a call: rows * this must fit an int. */
    private int widestRow() {
        int w = Math.max(h, Math.max(model.outputSize(), cfg.input().tokens() ? 1 : cfg.input().dim()));
        for (LruBlock b : blocks) {
            w = Math.max(w, Math.max(2 * b.n, b.mlpHidden));
        }
        return w;
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
            k.embed(tokens.ptr(), embed, x.ptr(), rows, h);
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
            k.gemm(features.ptr(), inW, inB, x.ptr(), rows, f, h);
        }
    }

    private void block(LruBlock b, List<Sequence> seqs, int rows, int keys) {
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
        if (predictive()) {
            // Event t is scored from y_{t-1}: the key's stored y for its first event.
            float[] prev = new float[keys * h];
            for (int i = 0; i < keys; i++) {
                System.arraycopy(seqs.get(i).state().values(), headStateOffset, prev, i * h, h);
            }
            k.shiftRows(x.ptr(), keyRows.upload(prev, prev.length), rowStart.ptr(), keys, p1.reserve(4L * rows * h),
                    rows, h);
            k.gatherRows(x.ptr(), lastRow.ptr(), keyRows2.reserve(4L * keys * h), keys, h);
            keyRows2.download(prev, prev.length);
            for (int i = 0; i < keys; i++) {
                System.arraycopy(prev, i * h, seqs.get(i).state().values(), headStateOffset, h);
            }
            y = p1.ptr();
        }
        k.norm(y, finalW, finalB, a.ptr(), rows, h, cfg.normEps());
        int width = model.outputSize();
        out.reserve(4L * rows * width);
        int chunk = (int) Math.max(64, Math.min(rows, HEAD_FLOATS / headOut));
        logits.reserve(4L * Math.min(rows, chunk) * headOut);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int cr = Math.min(chunk, rows - r0);
            CUdeviceptr in = a.ptr().withByteOffset(4L * r0 * h);
            switch (cfg.head().type()) {
                case NEXT_TOKEN -> {
                    k.gemm(in, headW, headB, logits.ptr(), cr, h, headOut);
                    k.surprisal(logits.ptr(), tokens.ptr().withByteOffset(4L * r0), out.ptr().withByteOffset(4L * r0),
                            cr, headOut);
                }
                case CLASSES -> {
                    CUdeviceptr o = out.ptr().withByteOffset(4L * r0 * headOut);
                    k.gemm(in, headW, headB, o, cr, h, headOut);
                    k.softmax(o, cr, headOut);
                }
                default -> {
                    k.gemm(in, headW, headB, logits.ptr(), cr, h, headOut);
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
            System.arraycopy(host, r * width, s.out(), 0, s.length() * width);
            r += s.length();
        }
    }

    @Override
    public void close() {
        dev.use();
        for (DeviceBuffer b : weights) {
            b.close();
        }
        for (DeviceBuffer b : new DeviceBuffer[] {tokens, features, rowStart, lastRow, x, a, u, m, p1, p2, hidden,
            keyRows, keyRows2, logits, out}) {
            b.close();
        }
        scan.close();
        jcuda.driver.JCudaDriver.cuEventDestroy(spanStart);
        jcuda.driver.JCudaDriver.cuEventDestroy(spanStop);
    }
}
