// A host emulation of the small part of CUDA that lseq's kernels use, so that their logic (index
// arithmetic, tiling, the scan's look-back, the reductions) is tested on machines without a GPU.
//
// Each CUDA thread is a fiber; a block's fibers run on one OS thread, switching at
// __syncthreads, at warp shuffles and __syncwarp (which exchange through a per-warp buffer) and
// in spin-waits. Several blocks run at once on worker threads, taking blocks in launch order, so
// the scan's look-back meets predecessors that are still running. It checks logic, not speed or
// the GPU memory model.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
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

// Fiber switch (x86-64 System V): saves the callee-saved registers on the current stack, stores
// its pointer in *save and continues on the stack `next` left by an earlier switch.
extern "C" void emu_switch(void** save, void* next);
asm(R"(
.text
.globl emu_switch
.type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
)");

namespace emu {

enum State { RUNNABLE, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
    void* sp = nullptr;
    State state = RUNNABLE;
    dim3 tid;
    std::vector<char> stack;
};

struct Block {
    std::vector<Fiber> fibers;
    void* scheduler = nullptr;
    int current = 0;
    bool spun = false;
    dim3 bid, bdim, gdim;
    std::function<void()>* body = nullptr;
    std::vector<std::array<unsigned char[16], 32>> warpSlots;
    std::map<std::type_index, std::shared_ptr<void>> shared;
};

inline thread_local Block* block = nullptr;
inline std::atomic<long> aggregates_used{0};
inline thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;

inline Fiber& self() { return block->fibers[block->current]; }

// Back to the scheduler; it resumes this fiber when its state allows.
inline void yield(State s) {
    Fiber& f = self();
    f.state = s;
    emu_switch(&f.sp, block->scheduler);
}

// A fiber's first frame: runs the kernel, then hands back to the scheduler for good.
inline void trampoline() {
    (*block->body)();
    yield(DONE);
    __builtin_trap();
}

// A fresh stack that the first emu_switch to it "returns" into trampoline() with the alignment
// of a call (rsp = 8 mod 16 at entry).
inline void* start_stack(std::vector<char>& stack) {
    uintptr_t top = (reinterpret_cast<uintptr_t>(stack.data()) + stack.size()) & ~(uintptr_t) 15;
    void** sp = reinterpret_cast<void**>(top);
    *--sp = nullptr;                                      // trampoline's return address: never used
    *--sp = reinterpret_cast<void*>(&trampoline);         // where emu_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = nullptr;          // rbp rbx r12 r13 r14 r15
    return sp;
}

inline int linear(const dim3& t, const dim3& d) { return (t.z * d.y + t.y) * d.x + t.x; }

template <class T> T& shared_of() {
    auto& slot = block->shared[std::type_index(typeid(T))];
    if (!slot) slot = std::shared_ptr<void>(new T(), [](void* p) { delete static_cast<T*>(p); });
    return *static_cast<T*>(slot.get());
}

inline int linear_thread() { return linear(thread_idx, block_dim); }

inline void warp_barrier() { yield(AT_WARP); }

template <class T> T shuffle(T v, int src) {
    static_assert(sizeof(T) <= 16, "shuffle of at most 16 bytes");
    int t = linear_thread();
    auto& slots = block->warpSlots[t / 32];
    std::memcpy(slots[t % 32], &v, sizeof(T));
    warp_barrier();
    T r;
    std::memcpy(&r, slots[src], sizeof(T));
    warp_barrier();
    return r;
}

// Runs one block's fibers until all are done.
inline void run_block(Block& b, size_t stackBytes) {
    int n = (int) b.fibers.size();
    block = &b;
    block_idx = b.bid;
    block_dim = b.bdim;
    grid_dim = b.gdim;
    b.shared.clear();
    for (int i = 0; i < n; i++) {
        Fiber& f = b.fibers[i];
        f.state = RUNNABLE;
        if (f.stack.size() < stackBytes) f.stack.resize(stackBytes);
        f.sp = start_stack(f.stack);
    }
    int warps = (n + 31) / 32;
    for (;;) {
        bool any = false;
        b.spun = false;
        for (int i = 0; i < n; i++) {
            if (b.fibers[i].state != RUNNABLE) continue;
            any = true;
            b.current = i;
            thread_idx = b.fibers[i].tid;
            emu_switch(&b.scheduler, b.fibers[i].sp);
        }
        int done = 0, atBarrier = 0;
        for (auto& f : b.fibers) {
            done += f.state == DONE;
            atBarrier += f.state == AT_BARRIER;
        }
        if (done == n) return;
        if (atBarrier > 0 && atBarrier + done == n) {
            for (auto& f : b.fibers) if (f.state == AT_BARRIER) f.state = RUNNABLE;
            continue;
        }
        bool released = false;
        for (int w = 0; w < warps; w++) {
            int lo = w * 32, hi = std::min(n, lo + 32), at = 0;
            for (int i = lo; i < hi; i++) at += b.fibers[i].state == AT_WARP;
            if (at == hi - lo) {
                for (int i = lo; i < hi; i++) b.fibers[i].state = RUNNABLE;
                released = true;
            }
        }
        if (!any && !released) {
            // Only waits on other blocks are left (they run on other workers).
            std::this_thread::yield();
        } else if (b.spun) {
            std::this_thread::yield();
        }
    }
}

// Blocks (with their fibers' stacks) are kept between launches: allocating and faulting in
// 16 MB of stacks per launch would dominate the emulation.
inline std::mutex pool_mu;
inline std::vector<std::unique_ptr<Block>> pool_free;

inline std::unique_ptr<Block> take_block() {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool_free.empty()) return std::make_unique<Block>();
    auto b = std::move(pool_free.back());
    pool_free.pop_back();
    return b;
}

inline void give_block(std::unique_ptr<Block> b) {
    std::lock_guard<std::mutex> lock(pool_mu);
    pool_free.push_back(std::move(b));
}

// Runs kernel(args...) over grid x blk on `workers` threads, blocks taken in launch order.
template <class F, class... A>
void launch(dim3 grid, dim3 blk, int workers, F kernel, A... args) {
    std::function<void()> body = [=] { kernel(args...); };
    long blocks = (long) grid.x * grid.y * grid.z;
    int threads = blk.x * blk.y * blk.z;
    std::atomic<long> next{0};
    auto work = [&] {
        std::unique_ptr<Block> owned = take_block();
        Block& b = *owned;
        b.fibers.resize(threads);
        for (int t = 0; t < threads; t++) b.fibers[t].tid = dim3(t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y));
        b.warpSlots.resize((threads + 31) / 32);
        b.bdim = blk;
        b.gdim = grid;
        b.body = &body;
        for (long i; (i = next.fetch_add(1)) < blocks;) {
            b.bid = dim3(i % grid.x, (i / grid.x) % grid.y, i / ((long) grid.x * grid.y));
            run_block(b, 64 * 1024);
        }
        block = nullptr;
        give_block(std::move(owned));
    };
    int w = (int) std::max(1L, std::min<long>(workers, blocks));
    std::vector<std::thread> pool;
    for (int i = 1; i < w; i++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
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
#define LSEQ_SPIN_PAUSE() (emu::block->spun = true, emu::yield(emu::RUNNABLE))
#define LSEQ_TRACE_AGGREGATE() emu::aggregates_used++
#define LSEQ_LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

inline void __syncthreads() { emu::yield(emu::AT_BARRIER); }
inline void __syncwarp() { emu::warp_barrier(); }
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
