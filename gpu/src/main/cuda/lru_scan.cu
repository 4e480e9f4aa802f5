// The LRU recurrence h_t = lambda * h_{t-1} + u_t over many keys' histories at once, in one
// pass: every element is read once and written once, as a device-to-device copy would.
//
// Layout: u is complex64 [R, N] (re, im interleaved); the rows of key k are rowStart[k] ..
// rowStart[k+1]-1 in time order. The scan runs in place: row t of u becomes h_t.
//
// Work: each key's time axis is cut into tiles of TILE = G * L events and its channels into
// tiles of CH = 32. A block takes one (time tile, channel tile); its thread (c, g) holds the L
// consecutive events g*L .. g*L+L-1 of channel c in registers. A warp reads 32 neighbouring
// channels of one row: 256 contiguous bytes. One key of 2^22 events gives as many blocks as
// 4096 keys of 1024, so a few long histories fill the GPU like many short ones.
//
// Carries between time tiles: a chained scan with decoupled look-back (Merrill and Garland,
// "Single-pass Parallel Prefix Scan with Decoupled Look-back", 2016). A tile publishes its
// aggregate (its events scanned from zero) as soon as it has it, then its inclusive prefix (the
// state after its last event) once it knows its starting state. It finds that start by walking
// back over its predecessors' aggregates until one has published a prefix:
//   start_j = P_{j-1}   or   A_{j-1} + lambda^TILE (A_{j-2} + lambda^TILE (... + P_{j-i})).
// The multiplicative half of each aggregate is lambda^TILE, known in closed form, so only the
// additive half travels. Tile ids come from a counter in launch order, not from blockIdx: a
// tile's predecessors were taken by blocks that already run, so the spin-wait always ends.
//
// Arithmetic runs in double with lambda in double, as in LruMixer (a float lambda would bias the
// steady state by 6e-4 relative at |lambda| = 0.9999); values are stored as float.

#include "lseq_cuda.h"

#define CH 32
#define G 8

enum { FLAG_NONE = 0, FLAG_AGGREGATE = 1, FLAG_PREFIX = 2 };

struct ScanShared {
    int tile;
    double2 prefix[G][CH];  // per group: its aggregate, then the tile's state before the group
    double2 carry[CH];      // the tile's starting state
};

__device__ __forceinline__ double2 cmul(double2 a, double2 b) {
    return make_double2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// a * b + c
__device__ __forceinline__ double2 cfma(double2 a, double2 b, double2 c) {
    return make_double2(fma(a.x, b.x, fma(-a.y, b.y, c.x)), fma(a.x, b.y, fma(a.y, b.x, c.y)));
}

template <int L>
__device__ __forceinline__ void scan_tile(float2* u, const float2* __restrict__ h0,
        const double2* __restrict__ lambda, const double2* __restrict__ powers,
        const int* __restrict__ rowStart, const int* __restrict__ tileStart, int keys, int n,
        int channelTiles, int* tileCounter, int* flags, double2* agg, double2* incl) {
    constexpr int TILE = G * L;
    LSEQ_SHARED(ScanShared, sh);
    const int c = threadIdx.x;
    const int g = threadIdx.y;
    if (c == 0 && g == 0) sh.tile = atomicAdd(tileCounter, 1);
    __syncthreads();
    const int id = sh.tile;
    const int ct = id % channelTiles;
    const int seqTile = id / channelTiles;
    const int key = lseq_find_segment(tileStart, keys, seqTile);
    const int j = seqTile - tileStart[key];
    const int row0 = rowStart[key];
    const int len = rowStart[key + 1] - row0;
    const int ch = ct * CH + c;
    const bool active = ch < n;
    const double2 lam = active ? lambda[ch] : make_double2(0.0, 0.0);
    const int t0 = j * TILE + g * L;

    // All loads first, so that each thread has L requests in flight.
    float2 v[L];
#pragma unroll
    for (int k = 0; k < L; k++) {
        int t = t0 + k;
        v[k] = (active && t < len) ? u[(size_t) (row0 + t) * n + ch] : make_float2(0.f, 0.f);
    }
    double2 s = make_double2(0.0, 0.0);
#pragma unroll
    for (int k = 0; k < L; k++) {
        s = cfma(lam, s, make_double2(v[k].x, v[k].y));
        v[k] = make_float2((float) s.x, (float) s.y);
    }
    sh.prefix[g][c] = s;
    __syncthreads();

    if (g == 0) {  // one warp: lane c owns channel c
        const double2 lamL = active ? powers[n + ch] : make_double2(0.0, 0.0);
        double2 acc = make_double2(0.0, 0.0);
        for (int gg = 0; gg < G; gg++) {
            double2 a = sh.prefix[gg][c];
            sh.prefix[gg][c] = acc;
            acc = cfma(lamL, acc, a);
        }
        const double2 lamT = active ? powers[(size_t) G * n + ch] : make_double2(0.0, 0.0);
        const size_t slot = (size_t) id * CH + c;
        double2 start;
        if (j == 0) {
            float2 h = active ? h0[(size_t) key * n + ch] : make_float2(0.f, 0.f);
            start = make_double2(h.x, h.y);
        } else {
            agg[slot] = acc;
            __threadfence();
            __syncwarp();
            if (c == 0) {
                __threadfence();
                atomicExch(&flags[id], FLAG_AGGREGATE);
            }
            double2 sum = make_double2(0.0, 0.0);
            double2 mult = make_double2(1.0, 0.0);
            int pred = id - channelTiles;
            for (;;) {
                int f = FLAG_NONE;
                if (c == 0) {
                    while ((f = LSEQ_LOAD_ACQUIRE(&flags[pred])) == FLAG_NONE) LSEQ_SPIN_PAUSE();
                }
                f = __shfl_sync(0xffffffffu, f, 0);
                // Lane 0's acquire orders its reads; the other lanes learnt the flag through the
                // shuffle, so they fence before reading the published values from L2.
                __threadfence();
                if (f == FLAG_PREFIX) {
                    sum = cfma(mult, __ldcg(&incl[(size_t) pred * CH + c]), sum);
                    break;
                }
                LSEQ_TRACE_AGGREGATE();
                sum = cfma(mult, __ldcg(&agg[(size_t) pred * CH + c]), sum);
                mult = cmul(mult, lamT);
                pred -= channelTiles;
            }
            start = sum;
        }
        incl[slot] = cfma(lamT, start, acc);
        __threadfence();
        __syncwarp();
        if (c == 0) {
            __threadfence();
            atomicExch(&flags[id], FLAG_PREFIX);
        }
        sh.carry[c] = start;
    }
    __syncthreads();

    // This thread's starting state, then h_t = s_t + lambda^(k+1) * start for its events.
    const double2 lamGL = active ? powers[(size_t) g * n + ch] : make_double2(0.0, 0.0);
    const double2 start = cfma(lamGL, sh.carry[c], sh.prefix[g][c]);
    double2 p = lam;
#pragma unroll
    for (int k = 0; k < L; k++) {
        int t = t0 + k;
        double2 o = cfma(p, start, make_double2(v[k].x, v[k].y));
        if (active && t < len) u[(size_t) (row0 + t) * n + ch] = make_float2((float) o.x, (float) o.y);
        p = cmul(p, lam);
    }
}

// Parameters, for both tile lengths:
//   u          complex64 [R, n], in: the inputs u_t; out: the states h_t
//   h0         complex64 [keys, n], each key's state before its first row
//   lambda     complex128 [n]
//   powers     complex128 [G + 1, n]: row g holds lambda^(g * L), from the closed form on the host
//   rowStart   [keys + 1], rowStart[keys] = R; tileStart [keys + 1], prefix sums of
//              ceil(len_k / TILE)
//   tileCounter, flags [tiles * channelTiles]: zero before each launch
//   agg, incl  complex128 [tiles * channelTiles * 32], scratch
// Launch: grid tiles * channelTiles, block (32, 8).
#define LSEQ_SCAN_PARAMS float2 *u, const float2 *h0, const double2 *lambda, const double2 *powers, \
    const int *rowStart, const int *tileStart, int keys, int n, int channelTiles, int *tileCounter, \
    int *flags, double2 *agg, double2 *incl
#define LSEQ_SCAN_ARGS u, h0, lambda, powers, rowStart, tileStart, keys, n, channelTiles, tileCounter, \
    flags, agg, incl

extern "C" __global__ void __launch_bounds__(CH * G, 2) lru_scan_l8(LSEQ_SCAN_PARAMS) {
    scan_tile<8>(LSEQ_SCAN_ARGS);
}

extern "C" __global__ void __launch_bounds__(CH * G, 2) lru_scan_l16(LSEQ_SCAN_PARAMS) {
    scan_tile<16>(LSEQ_SCAN_ARGS);
}

extern "C" __global__ void __launch_bounds__(CH * G, 2) lru_scan_l32(LSEQ_SCAN_PARAMS) {
    scan_tile<32>(LSEQ_SCAN_ARGS);
}

// 8 events per thread with fewer registers, for 3 or 4 blocks per SM (more loads in flight,
// small spills: ptxas sm_90 80 registers + 32 bytes, 64 registers + 96 bytes). Which variant
// reaches the copy's bandwidth is for GpuBench scan to tell.
extern "C" __global__ void __launch_bounds__(CH * G, 3) lru_scan_l8_occ3(LSEQ_SCAN_PARAMS) {
    scan_tile<8>(LSEQ_SCAN_ARGS);
}

extern "C" __global__ void __launch_bounds__(CH * G, 4) lru_scan_l8_occ4(LSEQ_SCAN_PARAMS) {
    scan_tile<8>(LSEQ_SCAN_ARGS);
}
