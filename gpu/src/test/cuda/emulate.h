// A host emulation of the small part of CUDA that lseq's kernels use, so that their logic (index
// arithmetic, tiling, the scan's look-back, the reductions) is tested on machines without a GPU.
// Every CUDA thread is an OS thread; __syncthreads is a barrier over the block's threads, warp
// shuffles exchange through a per-warp buffer; several blocks run at once, so the scan's spin-wait
// on a predecessor still running is exercised. It checks logic, not speed or the memory model.
#pragma once

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <typeindex>
#include <vector>

struct float2 { float x, y; };
struct double2 { double x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace emu {

struct Warp {
    std::barrier<> bar{32};
    unsigned char slots[32][16];
};

struct Block {
    explicit Block(int threads) : bar(threads), warps(threads / 32) {
        for (auto& w : warps) w = std::make_unique<Warp>();
    }
    std::barrier<> bar;
    std::vector<std::unique_ptr<Warp>> warps;
    std::mutex mu;
    std::map<std::type_index, std::shared_ptr<void>> shared;
};

inline thread_local Block* block = nullptr;
inline thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;

template <class T> T& shared_of() {
    std::lock_guard<std::mutex> lock(block->mu);
    auto& slot = block->shared[std::type_index(typeid(T))];
    if (!slot) slot = std::shared_ptr<void>(new T(), [](void* p) { delete static_cast<T*>(p); });
    return *static_cast<T*>(slot.get());
}

inline int linear_thread() { return (thread_idx.z * block_dim.y + thread_idx.y) * block_dim.x + thread_idx.x; }

template <class T> T shuffle(T v, int src) {
    static_assert(sizeof(T) <= 16, "shuffle of at most 16 bytes");
    int t = linear_thread();
    Warp& w = *block->warps[t / 32];
    std::memcpy(w.slots[t % 32], &v, sizeof(T));
    w.bar.arrive_and_wait();
    T r;
    std::memcpy(&r, w.slots[src], sizeof(T));
    w.bar.arrive_and_wait();
    return r;
}

// Runs kernel(args...) over grid x block, `concurrent` blocks at a time (blocks in launch order).
template <class F, class... A>
void launch(dim3 grid, dim3 blk, int concurrent, F kernel, A... args) {
    int threads = blk.x * blk.y * blk.z;
    long blocks = (long) grid.x * grid.y * grid.z;
    for (long first = 0; first < blocks; first += concurrent) {
        long last = std::min(blocks, first + concurrent);
        std::vector<std::unique_ptr<Block>> ctx;
        std::vector<std::thread> pool;
        for (long b = first; b < last; b++) {
            ctx.push_back(std::make_unique<Block>(threads));
            Block* bc = ctx.back().get();
            dim3 bi(b % grid.x, (b / grid.x) % grid.y, b / ((long) grid.x * grid.y));
            for (int t = 0; t < threads; t++) {
                dim3 ti(t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y));
                pool.emplace_back([=] {
                    block = bc;
                    thread_idx = ti;
                    block_idx = bi;
                    block_dim = blk;
                    grid_dim = grid;
                    kernel(args...);
                });
            }
        }
        for (auto& t : pool) t.join();
    }
}

}  // namespace emu

#define threadIdx (emu::thread_idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define LSEQ_SHARED(T, name) T& name = emu::shared_of<T>()
#define LSEQ_SPIN_PAUSE() std::this_thread::yield()

inline void __syncthreads() { emu::block->bar.arrive_and_wait(); }
inline void __syncwarp() { emu::block->warps[emu::linear_thread() / 32]->bar.arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
template <class T> T __shfl_sync(unsigned, T v, int src) { return emu::shuffle(v, src); }
template <class T> T __shfl_xor_sync(unsigned, T v, int mask) { return emu::shuffle(v, (emu::linear_thread() % 32) ^ mask); }
template <class T> T __ldcg(const T* p) {
    std::atomic_thread_fence(std::memory_order_acquire);
    T v;
    std::memcpy(&v, (const void*) p, sizeof(T));
    return v;
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
using std::fmaxf;
using std::fmaf;
