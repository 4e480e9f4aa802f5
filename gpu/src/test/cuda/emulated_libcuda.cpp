// libcuda.so.1 for machines without a GPU: the CUDA driver API calls lseq's GPU backend makes,
// answered on the host. Kernels are lseq's own .cu sources run on the emulator (emulate.h), looked
// up by name; the PTX handed to cuModuleLoadData is only checked to be PTX. Device memory is host
// memory whose end touches an inaccessible page, so a kernel or a copy that runs past a buffer's
// end crashes instead of passing. With it, JCuda and the whole Java GPU path run in tests
// (EmulatedGpuTest); speed and the GPU's memory model need the real device.
//   g++ -std=c++20 -O1 -shared -fPIC -pthread -DLSEQ_EMULATE -I gpu/src/test/cuda -I gpu/src/main/cuda \
//       gpu/src/test/cuda/emulated_libcuda.cpp -o DIR/libcuda.so.1     (then LD_LIBRARY_PATH=DIR)
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <unordered_map>

#include "lru_scan.cu"
#include "model_ops.cu"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef void* CUevent;

enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_IMAGE = 200, NOT_FOUND = 500 };

namespace {

// How a launch unpacks kernelParams for a kernel of signature void(A...).
struct Kernel {
    std::function<void(dim3, dim3, void**)> launch;
};

template <class... A, size_t... I>
void call(void (*f)(A...), dim3 g, dim3 b, void** p, std::index_sequence<I...>) {
    emu::launch(g, b, 4, f, *static_cast<A*>(p[I])...);
}

template <class... A>
Kernel kernel(void (*f)(A...)) {
    return Kernel{[f](dim3 g, dim3 b, void** p) { call(f, g, b, p, std::index_sequence_for<A...>{}); }};
}

std::unordered_map<std::string, Kernel>& kernels() {
    static std::unordered_map<std::string, Kernel> k = {
        {"lru_scan_l8", kernel(lru_scan_l8)}, {"lru_scan_l16", kernel(lru_scan_l16)},
        {"lru_scan_l32", kernel(lru_scan_l32)}, {"lru_scan_l8_occ3", kernel(lru_scan_l8_occ3)},
        {"lru_scan_l8_occ4", kernel(lru_scan_l8_occ4)}, {"gemm_nt", kernel(gemm_nt)}, {"embed_rows", kernel(embed_rows)},
        {"norm_rows", kernel(norm_rows)}, {"gelu_inplace", kernel(gelu_inplace)}, {"glu_add", kernel(glu_add)},
        {"add_inplace", kernel(add_inplace)}, {"skip_add", kernel(skip_add)}, {"shift_rows", kernel(shift_rows)},
        {"gather_rows", kernel(gather_rows)}, {"surprisal_rows", kernel(surprisal_rows)},
        {"softmax_rows", kernel(softmax_rows)}, {"mse_rows", kernel(mse_rows)},
    };
    return k;
}

struct Allocation {
    void* base;
    size_t mapped;
};

std::mutex mu;
std::unordered_map<CUdeviceptr, Allocation> allocations;
const size_t PAGE = 4096;
size_t used = 0;

int context_token;

// The device's memory: 4 GiB, or LSEQ_EMULATED_DEVICE_BYTES; allocations beyond it fail as on a GPU.
size_t device_bytes() {
    static const size_t bytes = [] {
        const char* v = std::getenv("LSEQ_EMULATED_DEVICE_BYTES");
        return v != nullptr ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : (4ull << 30);
    }();
    return bytes;
}

}  // namespace

extern "C" {

CUresult cuInit(unsigned int) { return OK; }

CUresult cuDeviceGetCount(int* n) {
    *n = 1;
    return OK;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (ordinal != 0) return INVALID_VALUE;
    *d = 0;
    return OK;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    std::snprintf(name, len, "lseq host emulator");
    return OK;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
    *bytes = device_bytes();
    return OK;
}

CUresult cuDeviceGetAttribute(int* v, int, CUdevice) {
    *v = 1;
    return OK;
}

CUresult cuCtxCreate_v2(CUcontext* c, unsigned int, CUdevice) {
    *c = &context_token;
    return OK;
}

CUresult cuCtxDestroy_v2(CUcontext) { return OK; }
CUresult cuCtxSetCurrent(CUcontext) { return OK; }
CUresult cuCtxSynchronize() { return OK; }

CUresult cuModuleLoadData(CUmodule* m, const void* image) {
    if (std::strstr(static_cast<const char*>(image), ".visible .entry") == nullptr) return INVALID_IMAGE;
    *m = &context_token;
    return OK;
}

CUresult cuModuleGetFunction(CUfunction* f, CUmodule, const char* name) {
    auto it = kernels().find(name);
    if (it == kernels().end()) return NOT_FOUND;
    *f = &it->second;
    return OK;
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    if (bytes == 0) return INVALID_VALUE;
    size_t rounded = (bytes + 15) / 16 * 16;
    size_t pages = (rounded + PAGE - 1) / PAGE + 1;
    {
        // Counted before mapping, under one lock, so that concurrent allocations cannot both pass.
        std::lock_guard<std::mutex> lock(mu);
        if (used + pages * PAGE > device_bytes()) return OUT_OF_MEMORY;
        used += pages * PAGE;
    }
    void* base = mmap(nullptr, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        std::lock_guard<std::mutex> lock(mu);
        used -= pages * PAGE;
        return OUT_OF_MEMORY;
    }
    mprotect(static_cast<char*>(base) + (pages - 1) * PAGE, PAGE, PROT_NONE);
    char* start = static_cast<char*>(base) + (pages - 1) * PAGE - rounded;
    // Uninitialised device memory: not zeros, so that a missing initialisation shows.
    std::memset(start, 0x7f, rounded);
    std::lock_guard<std::mutex> lock(mu);
    *p = reinterpret_cast<CUdeviceptr>(start);
    allocations[*p] = {base, pages * PAGE};
    return OK;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = allocations.find(p);
    if (it == allocations.end()) return INVALID_VALUE;
    munmap(it->second.base, it->second.mapped);
    used -= it->second.mapped;
    allocations.erase(it);
    return OK;
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> lock(mu);
    *total = device_bytes();
    *free = *total - used;
    return OK;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    std::memcpy(reinterpret_cast<void*>(dst), src, n);
    return OK;
}

CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    std::memcpy(dst, reinterpret_cast<const void*>(src), n);
    return OK;
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
    return OK;
}

CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t n) {
    unsigned int* p = reinterpret_cast<unsigned int*>(dst);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return OK;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
        unsigned shared, CUstream, void** params, void** extra) {
    // The limits of every CUDA device since compute capability 3.0.
    if (shared != 0 || extra != nullptr || bx * by * bz > 1024 || bx * by * bz == 0 || bz > 64 || gx == 0 || gy == 0
            || gz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535) {
        return INVALID_VALUE;
    }
    static_cast<Kernel*>(f)->launch(dim3(gx, gy, gz), dim3(bx, by, bz), params);
    return OK;
}

CUresult cuEventCreate(CUevent* e, unsigned int) {
    *e = new double(0);
    return OK;
}

CUresult cuEventRecord(CUevent e, CUstream) {
    *static_cast<double*>(e) =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return OK;
}

CUresult cuEventSynchronize(CUevent) { return OK; }

CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
    *ms = (float) (*static_cast<double*>(b) - *static_cast<double*>(a));
    return OK;
}

CUresult cuEventDestroy_v2(CUevent e) {
    delete static_cast<double*>(e);
    return OK;
}

}  // extern "C"
