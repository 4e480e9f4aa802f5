package io.lseq.gpu;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Typed launches of the kernels in {@code model_ops.cu}: each method packs its arguments in the
 * kernel's order and picks the grid. Rows are events, packed key after key, row-major.
 */
final class Kernels {
    /** Threads per block of the elementwise kernels, and the grid's cap (they stride). */
    private static final int THREADS = 256;
    private static final int MAX_BLOCKS = 65_535;
    /** Rows per block of the row kernels: LSEQ_ROW_WARPS in lseq_cuda.h. */
    private static final int ROW_WARPS = 8;
    private static final CUdeviceptr NULL = new CUdeviceptr();

    private final CudaDevice dev;

    Kernels(CudaDevice dev) {
        this.dev = dev;
    }

    static Pointer p(CUdeviceptr ptr) {
        return Pointer.to(ptr == null ? NULL : ptr);
    }

    static Pointer i(int v) {
        return Pointer.to(new int[] {v});
    }

    static Pointer l(long v) {
        return Pointer.to(new long[] {v});
    }

    static Pointer f(float v) {
        return Pointer.to(new float[] {v});
    }

    private static int blocks(long n) {
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (n + THREADS - 1) / THREADS));
    }

    private static int rowBlocks(int rows) {
        return (rows + ROW_WARPS - 1) / ROW_WARPS;
    }

    /** {@code c[rows, out] = a[rows, in] w[out, in]^T (+ bias)}. */
    void gemm(CUdeviceptr a, CUdeviceptr w, CUdeviceptr bias, CUdeviceptr c, int rows, int in, int out) {
        dev.launch("gemm_nt", (rows + 63) / 64, (out + 63) / 64, 256, 1, p(a), p(w), p(bias), p(c), i(rows), i(in),
                i(out));
    }

    void embed(CUdeviceptr tokens, CUdeviceptr table, CUdeviceptr out, int rows, int h) {
        dev.launch("embed_rows", blocks((long) rows * h), 1, THREADS, 1, p(tokens), p(table), p(out), i(rows), i(h));
    }

    /** LayerNorm when {@code bias} is given, RMSNorm when it is null. */
    void norm(CUdeviceptr x, CUdeviceptr weight, CUdeviceptr bias, CUdeviceptr y, int rows, int h, float eps) {
        dev.launch("norm_rows", rowBlocks(rows), 1, ROW_WARPS * 32, 1, p(x), p(weight), p(bias), p(y), i(rows), i(h),
                f(eps), i(bias == null ? 1 : 0));
    }

    void gelu(CUdeviceptr x, long n, boolean tanh) {
        dev.launch("gelu_inplace", blocks(n), 1, THREADS, 1, p(x), l(n), i(tanh ? 1 : 0));
    }

    /** {@code x += p1 * sigmoid(p2)}. */
    void gluAdd(CUdeviceptr x, CUdeviceptr p1, CUdeviceptr p2, long n) {
        dev.launch("glu_add", blocks(n), 1, THREADS, 1, p(x), p(p1), p(p2), l(n));
    }

    void add(CUdeviceptr x, CUdeviceptr p, long n) {
        dev.launch("add_inplace", blocks(n), 1, THREADS, 1, p(x), p(p), l(n));
    }

    /** {@code m[r, o] += d[o] * a[r, o]}. */
    void skipAdd(CUdeviceptr m, CUdeviceptr a, CUdeviceptr d, int rows, int h) {
        dev.launch("skip_add", blocks((long) rows * h), 1, THREADS, 1, p(m), p(a), p(d), i(rows), i(h));
    }

    /** {@code out[r] = r first of its key ? yPrev[key] : y[r - 1]}. */
    void shiftRows(CUdeviceptr y, CUdeviceptr yPrev, CUdeviceptr rowStart, int keys, CUdeviceptr out, int rows, int h) {
        dev.launch("shift_rows", blocks((long) rows * h), 1, THREADS, 1, p(y), p(yPrev), p(rowStart), i(keys), p(out),
                i(rows), i(h));
    }

    /** {@code dst[k] = src[index[k]]}, rows of width w floats. */
    void gatherRows(CUdeviceptr src, CUdeviceptr index, CUdeviceptr dst, int count, int w) {
        dev.launch("gather_rows", blocks((long) count * w), 1, THREADS, 1, p(src), p(index), p(dst), i(count), i(w));
    }

    void surprisal(CUdeviceptr logits, CUdeviceptr tokens, CUdeviceptr out, int rows, int v) {
        dev.launch("surprisal_rows", rowBlocks(rows), 1, ROW_WARPS * 32, 1, p(logits), p(tokens), p(out), i(rows), i(v));
    }

    void softmax(CUdeviceptr x, int rows, int k) {
        dev.launch("softmax_rows", rowBlocks(rows), 1, ROW_WARPS * 32, 1, p(x), i(rows), i(k));
    }

    void mse(CUdeviceptr pred, CUdeviceptr features, CUdeviceptr out, int rows, int f) {
        dev.launch("mse_rows", rowBlocks(rows), 1, ROW_WARPS * 32, 1, p(pred), p(features), p(out), i(rows), i(f));
    }
}
