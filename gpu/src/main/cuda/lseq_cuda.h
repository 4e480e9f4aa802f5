// What every lseq kernel includes: the few spellings that differ between nvcc and the host
// emulator that tests the kernels' logic without a GPU (src/test/cuda/emulate.h).
#pragma once

#ifdef LSEQ_EMULATE
#include "emulate.h"
#else
// A kernel's shared memory is one struct, so that the emulator can give each block its own.
#define LSEQ_SHARED(T, name) __shared__ T name
// Spin-waits back off instead of hammering the flag's cache line.
#define LSEQ_SPIN_PAUSE() __nanosleep(32)
// Counts, on the emulator, look-backs that had to use a predecessor's aggregate.
#define LSEQ_TRACE_AGGREGATE()
// A load with acquire semantics at device scope: what a spin-wait on a published flag needs.
__device__ __forceinline__ int lseq_load_acquire(const int* p) {
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}
#define LSEQ_LOAD_ACQUIRE(p) lseq_load_acquire(p)
#endif

// Threads per block of the row kernels: 8 warps, one row each.
#define LSEQ_ROW_WARPS 8

// The largest k with starts[k] <= x (starts ascending, starts[0] = 0 <= x): which key a row or
// a tile belongs to.
__device__ __forceinline__ int lseq_find_segment(const int* starts, int count, int x) {
    int lo = 0, hi = count - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
}
