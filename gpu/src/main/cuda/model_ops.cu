// Everything of an LRU model's forward pass on the GPU except the scan (lru_scan.cu): the
// input, the products, the norms, the elementwise parts and the heads. Rows are events, packed
// key after key ([R, width], row-major); the math is MODEL_FORMAT.md's, as in the Java engine.

#include "lseq_cuda.h"

// ---------------------------------------------------------------- products

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16

// Tiles transposed, rows padded by one float: the loads write a[k][r] for 16 k at once, which
// without the pad would all fall in one shared-memory bank.
struct GemmShared {
    float a[GEMM_BK][GEMM_BM + 1];  // A's tile: a[k][row]
    float w[GEMM_BK][GEMM_BN + 1];  // W's tile: w[k][col]
};

// C[rows, out] = A[rows, in] * W[out, in]^T (+ bias[out]): a torch.nn.Linear over every row.
// Block (16, 16) computes a 64 x 64 tile of C, each thread 4 x 4 outputs strided by 16, so that
// a warp's reads of the shared tiles and its writes of C are contiguous.
// Launch: grid (ceil(rows / 64), ceil(out / 64)), block 256: row tiles on x, whose limit is
// 2^31 - 1 (y stops at 65,535 = 4.2M rows).
extern "C" __global__ void __launch_bounds__(256) gemm_nt(const float* __restrict__ A,
        const float* __restrict__ W, const float* __restrict__ bias, float* __restrict__ C, int rows,
        int in, int out) {
    LSEQ_SHARED(GemmShared, sh);
    const int tid = threadIdx.x;
    const int tx = tid % 16;
    const int ty = tid / 16;
    const int r0 = blockIdx.x * GEMM_BM;
    const int c0 = blockIdx.y * GEMM_BN;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;

    for (int k0 = 0; k0 < in; k0 += GEMM_BK) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int e = tid + 256 * q;
            int r = e / GEMM_BK;
            int k = e % GEMM_BK;
            int gr = r0 + r, gc = c0 + r, gk = k0 + k;
            sh.a[k][r] = (gr < rows && gk < in) ? A[(size_t) gr * in + gk] : 0.f;
            sh.w[k][r] = (gc < out && gk < in) ? W[(size_t) gc * in + gk] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < GEMM_BK; k++) {
            float a[4], w[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = sh.a[k][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++) w[j] = sh.w[k][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int r = r0 + ty + 16 * i;
        if (r >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int c = c0 + tx + 16 * j;
            if (c < out) C[(size_t) r * out + c] = acc[i][j] + (bias ? bias[c] : 0.f);
        }
    }
}

// ---------------------------------------------------------------- warp helpers

__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The row a warp handles in the row kernels (block LSEQ_ROW_WARPS * 32 threads).
__device__ __forceinline__ int warp_row() {
    return blockIdx.x * LSEQ_ROW_WARPS + threadIdx.x / 32;
}

// ---------------------------------------------------------------- input

// out[r] = table[tokens[r]]: the embedding of every event. Grid-stride over rows * h.
extern "C" __global__ void embed_rows(const int* __restrict__ tokens, const float* __restrict__ table,
        float* __restrict__ out, int rows, int h) {
    size_t total = (size_t) rows * h;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        size_t r = i / h;
        out[i] = table[(size_t) tokens[r] * h + (i - r * h)];
    }
}

// ---------------------------------------------------------------- norms

// y[r] = norm(x[r]): LayerNorm (bias != null, biased variance) or RMSNorm (rms != 0, no bias),
// mean and mean square in double as in io.lseq.core.math.Norm. One warp per row.
extern "C" __global__ void norm_rows(const float* __restrict__ x, const float* __restrict__ weight,
        const float* __restrict__ bias, float* __restrict__ y, int rows, int h, float eps, int rms) {
    int r = warp_row();
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    const float* xr = x + (size_t) r * h;
    double mean = 0.0;
    if (!rms) {
        for (int i = lane; i < h; i += 32) mean += xr[i];
        mean = warp_sum(mean) / h;
    }
    double sq = 0.0;
    for (int i = lane; i < h; i += 32) {
        double c = xr[i] - mean;
        sq += c * c;
    }
    sq = warp_sum(sq);
    float inv = (float) (1.0 / sqrt(sq / h + (double) eps));
    float m = (float) mean;
    float* yr = y + (size_t) r * h;
    for (int i = lane; i < h; i += 32) {
        float v = (xr[i] - m) * inv * weight[i];
        yr[i] = bias ? v + bias[i] : v;
    }
}

// ---------------------------------------------------------------- elementwise

__device__ __forceinline__ float gelu_erf(float x) {
    return (float) (0.5 * x * (1.0 + erf(x * 0.70710678118654752440)));
}

__device__ __forceinline__ float gelu_tanh(float x) {
    double u = 0.79788456080286535588 * (x + 0.044715 * x * (double) x * x);
    return (float) (0.5 * x * (1.0 + tanh(u)));
}

__device__ __forceinline__ float sigmoid(float x) {
    return (float) (1.0 / (1.0 + exp(-(double) x)));
}

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n); \
    i += (size_t) gridDim.x * blockDim.x)

// x = gelu(x), erf (tanh == 0) or tanh form.
extern "C" __global__ void gelu_inplace(float* x, long long n, int tanhForm) {
    GRID_STRIDE(i, (size_t) n) x[i] = tanhForm ? gelu_tanh(x[i]) : gelu_erf(x[i]);
}

// x += p1 * sigmoid(p2): the GLU post-projection added to the residual.
extern "C" __global__ void glu_add(float* __restrict__ x, const float* __restrict__ p1,
        const float* __restrict__ p2, long long n) {
    GRID_STRIDE(i, (size_t) n) x[i] += p1[i] * sigmoid(p2[i]);
}

// x += p.
extern "C" __global__ void add_inplace(float* __restrict__ x, const float* __restrict__ p, long long n) {
    GRID_STRIDE(i, (size_t) n) x[i] += p[i];
}

// m[r, o] += d[o] * a[r, o]: the LRU's skip term D * a_t.
extern "C" __global__ void skip_add(float* __restrict__ m, const float* __restrict__ a,
        const float* __restrict__ d, int rows, int h) {
    GRID_STRIDE(i, (size_t) rows * h) m[i] += d[i % h] * a[i];
}

// ---------------------------------------------------------------- rows of keys

// out[r] = the output the head reads for row r's event: for predictive heads the previous
// event's y, that is y[r - 1] within the key, or the key's stored y (yPrev[k]) at its first row.
extern "C" __global__ void shift_rows(const float* __restrict__ y, const float* __restrict__ yPrev,
        const int* __restrict__ rowStart, int keys, float* __restrict__ out, int rows, int h) {
    GRID_STRIDE(i, (size_t) rows * h) {
        int r = (int) (i / h);
        int c = (int) (i - (size_t) r * h);
        int k = lseq_find_segment(rowStart, keys, r);
        out[i] = r == rowStart[k] ? yPrev[(size_t) k * h + c] : y[i - h];
    }
}

// dst[k] = src[index[k]], rows of width w: each key's last state or output.
extern "C" __global__ void gather_rows(const float* __restrict__ src, const int* __restrict__ index,
        float* __restrict__ dst, int count, int w) {
    GRID_STRIDE(i, (size_t) count * w) {
        int k = (int) (i / w);
        dst[i] = src[(size_t) index[k] * w + (i - (size_t) k * w)];
    }
}

// ---------------------------------------------------------------- heads

// A warp's row: its maximum and the sum of exp(x - max) in double (lane-strided, then reduced).
__device__ __forceinline__ double row_expsum(const float* row, int n, int lane, float* max) {
    float mx = -INFINITY;
    for (int i = lane; i < n; i += 32) mx = fmaxf(mx, row[i]);
    mx = warp_max(mx);
    double sum = 0.0;
    for (int i = lane; i < n; i += 32) sum += exp((double) (row[i] - mx));
    *max = mx;
    return warp_sum(sum);
}

// out[r] = logsumexp(logits[r]) - logits[r][tokens[r]]: the surprisal of each event's token.
// One warp per row.
extern "C" __global__ void surprisal_rows(const float* __restrict__ logits, const int* __restrict__ tokens,
        float* __restrict__ out, int rows, int v) {
    int r = warp_row();
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    const float* lr = logits + (size_t) r * v;
    float mx;
    double sum = row_expsum(lr, v, lane, &mx);
    if (lane == 0) out[r] = (float) (mx + log(sum) - lr[tokens[r]]);
}

// x[r] = softmax(x[r]), in place. One warp per row.
extern "C" __global__ void softmax_rows(float* x, int rows, int k) {
    int r = warp_row();
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    float* xr = x + (size_t) r * k;
    float mx;
    double sum = row_expsum(xr, k, lane, &mx);
    for (int i = lane; i < k; i += 32) xr[i] = (float) (exp((double) (xr[i] - mx)) / sum);
}

// out[r] = mean((pred[r] - features[r])^2): the regression head's score. One warp per row.
extern "C" __global__ void mse_rows(const float* __restrict__ pred, const float* __restrict__ features,
        float* __restrict__ out, int rows, int f) {
    int r = warp_row();
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    double sum = 0.0;
    for (int i = lane; i < f; i += 32) {
        double d = (double) pred[(size_t) r * f + i] - features[(size_t) r * f + i];
        sum += d * d;
    }
    sum = warp_sum(sum);
    if (lane == 0) out[r] = (float) (sum / f);
}
