package io.lseq.gpu;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.math.Linear;
import io.lseq.core.math.Norm;
import io.lseq.core.mixer.LruMixer;
import io.lseq.core.model.Model;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * An LRU model's weights on the device, built from the model as the core loaded it (its parts,
 * the LRU's derived parameters, its state layout), laid out for the kernels: the LRU's B rows
 * and C columns interleaved (re, im), lambda as complex128. Closes with its buffers.
 */
final class DeviceModel implements AutoCloseable {
    /** One LRU block on the device. */
    static final class Block {
        int n;
        int stateOffset;
        int mlpHidden;
        boolean glu;
        CUdeviceptr normW, normB, bStacked, cStacked, lambda, powers, d;
        CUdeviceptr out1W, out1B, out2W, out2B, mlpNormW, mlpNormB, fc1W, fc1B, fc2W, fc2B;
    }

    final Model model;
    final ModelConfig cfg;
    final int h;
    final CUdeviceptr embed;
    final CUdeviceptr inW;
    final CUdeviceptr inB;
    final Block[] blocks;
    final CUdeviceptr finalW;
    final CUdeviceptr finalB;
    final CUdeviceptr headW;
    final CUdeviceptr headB;
    /** Width of the head's product: V, K or F. */
    final int headOut;
    private final List<DeviceBuffer> buffers = new ArrayList<>();

    /**
     * @throws IllegalArgumentException if a block is not LRU ({@link GpuBatchScorer#unsupported})
     */
    DeviceModel(Model model, LruScan scan) {
        this.model = model;
        this.cfg = model.config();
        String why = GpuBatchScorer.unsupported(cfg);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        this.h = cfg.dModel();
        float[] embedding = model.embedding();
        embed = embedding == null ? null : put(embedding);
        Linear in = model.inputProjection();
        inW = in == null ? null : put(in.weight());
        inB = in == null ? null : put(in.bias());
        List<Model.BlockParts> parts = model.blockParts();
        blocks = new Block[parts.size()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = block(parts.get(i), scan);
        }
        finalW = put(model.finalNorm().weight());
        finalB = put(model.finalNorm().bias());
        Linear head = model.headProjection();
        headOut = head.out();
        headW = cfg.head().type() == ModelConfig.HeadType.NEXT_TOKEN && cfg.head().tieEmbeddings() ? embed
                : put(head.weight());
        headB = put(head.bias());
    }

    /** Whether event t is scored from y(t-1) (next token, regression). */
    boolean predictive() {
        return cfg.head().type() != ModelConfig.HeadType.CLASSES;
    }

    private Block block(Model.BlockParts p, LruScan scan) {
        LruMixer.Params lru = ((LruMixer) p.mixer()).params();
        int n = lru.n();
        Block b = new Block();
        b.n = n;
        b.stateOffset = p.stateOffset();
        b.normW = put(p.norm().weight());
        b.normB = put(p.norm().bias());
        // Rows 2i, 2i+1 of B: gamma_i (B_re[i], B_im[i]), so one product gives u as complex64 [N];
        // columns 2i, 2i+1 of C: (C_re[:, i], -C_im[:, i]), so one product of h gives Re(C h).
        float[] bs = new float[2 * n * h];
        float[] cs = new float[h * 2 * n];
        double[] lambda = new double[2 * n];
        for (int c = 0; c < n; c++) {
            System.arraycopy(lru.b(), c * h, bs, 2 * c * h, h);
            System.arraycopy(lru.b(), (n + c) * h, bs, (2 * c + 1) * h, h);
            for (int o = 0; o < h; o++) {
                cs[o * 2 * n + 2 * c] = lru.c()[o * 2 * n + c];
                cs[o * 2 * n + 2 * c + 1] = lru.c()[o * 2 * n + n + c];
            }
            lambda[2 * c] = lru.lambdaRe()[c];
            lambda[2 * c + 1] = lru.lambdaIm()[c];
        }
        b.bStacked = put(bs);
        b.cStacked = put(cs);
        b.lambda = put(lambda);
        b.powers = put(scan.powers(lru.logModulus(), lru.phase()));
        b.d = put(lru.d());
        b.glu = p.out1() != null;
        if (b.glu) {
            b.out1W = put(p.out1().weight());
            b.out1B = put(p.out1().bias());
            b.out2W = put(p.out2().weight());
            b.out2B = put(p.out2().bias());
        }
        b.mlpHidden = p.fc1() == null ? 0 : p.fc1().out();
        if (b.mlpHidden > 0) {
            Norm mn = p.mlpNorm();
            b.mlpNormW = put(mn.weight());
            b.mlpNormB = put(mn.bias());
            b.fc1W = put(p.fc1().weight());
            b.fc1B = put(p.fc1().bias());
            b.fc2W = put(p.fc2().weight());
            b.fc2B = put(p.fc2().bias());
        }
        return b;
    }

    /** Uploads a tensor; null (an absent bias) stays null. */
    private CUdeviceptr put(float[] v) {
        if (v == null) {
            return null;
        }
        DeviceBuffer b = new DeviceBuffer();
        buffers.add(b);
        return b.upload(v, v.length);
    }

    private CUdeviceptr put(double[] v) {
        DeviceBuffer b = new DeviceBuffer();
        buffers.add(b);
        return b.upload(v);
    }

    /** The largest d_state over the blocks. */
    int widestState() {
        int n = 0;
        for (Block b : blocks) {
            n = Math.max(n, b.n);
        }
        return n;
    }

    /** The largest MLP width over the blocks (0: none). */
    int widestMlp() {
        int m = 0;
        for (Block b : blocks) {
            m = Math.max(m, b.mlpHidden);
        }
        return m;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : buffers) {
            b.close();
        }
    }
}
