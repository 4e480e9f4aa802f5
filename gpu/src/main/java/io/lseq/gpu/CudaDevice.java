package io.lseq.gpu;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * The first CUDA device, a context on it and lseq's kernels loaded from their PTX
 * ({@code lru_scan.ptx}, {@code model_ops.ptx}, built from {@code src/main/cuda}). Only the
 * driver API is used. Calls from any thread make the context current first.
 */
public final class CudaDevice implements AutoCloseable {
    /** The PTX modules on the class path, and the kernels each holds. */
    static final Map<String, String[]> MODULES = Map.of(
            "lru_scan", new String[] {"lru_scan_l8", "lru_scan_l16", "lru_scan_l32", "lru_scan_l8_occ3",
                "lru_scan_l8_occ4"},
            "model_ops", new String[] {"gemm_nt", "embed_rows", "norm_rows", "gelu_inplace", "glu_add", "add_inplace",
                "skip_add", "shift_rows", "gather_rows", "surprisal_rows", "softmax_rows", "mse_rows"});

    private final CUcontext context = new CUcontext();
    private final Map<String, CUfunction> kernels = new HashMap<>();
    private final String name;
    private final long memoryBytes;
    private final int multiprocessors;

    private CudaDevice() {
        CUdevice device = new CUdevice();
        cuDeviceGet(device, 0);
        byte[] raw = new byte[256];
        cuDeviceGetName(raw, raw.length, device);
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        name = new String(raw, 0, end, StandardCharsets.US_ASCII);
        long[] mem = new long[1];
        cuDeviceTotalMem(mem, device);
        memoryBytes = mem[0];
        int[] sm = new int[1];
        cuDeviceGetAttribute(sm, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        multiprocessors = sm[0];
        cuCtxCreate(context, 0, device);
        try {
            for (Map.Entry<String, String[]> m : MODULES.entrySet()) {
                CUmodule module = new CUmodule();
                cuModuleLoadData(module, ptx(m.getKey()));
                for (String k : m.getValue()) {
                    CUfunction f = new CUfunction();
                    cuModuleGetFunction(f, module, k);
                    kernels.put(k, f);
                }
            }
        } catch (RuntimeException e) {
            cuCtxDestroy(context);
            throw e;
        }
    }

    /**
     * Opens device 0.
     *
     * @throws GpuUnavailableException saying why there is none: no JCuda native library for this
     *     platform, no CUDA driver, no device, or a driver that refuses the PTX
     */
    public static CudaDevice open() {
        String why = probe();
        if (why != null) {
            throw new GpuUnavailableException(why);
        }
        try {
            return new CudaDevice();
        } catch (RuntimeException | LinkageError e) {
            throw new GpuUnavailableException("CUDA device 0 could not load lseq's kernels: " + e.getMessage());
        }
    }

    private static volatile String noDriver;

    /** Null when a CUDA device can be used, else why not, in one line. */
    public static String probe() {
        if (noDriver != null) {
            return noDriver;
        }
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            return count[0] > 0 ? null : "the CUDA driver reports no device";
        } catch (LinkageError e) {
            // JCuda's native library links libcuda.so.1: absent where there is no NVIDIA driver. The
            // first failure names the library; later ones would only say the class failed to
            // initialize, and nothing changes within this JVM, so the first reason is kept.
            noDriver = "no CUDA driver (" + firstLine(e.getMessage()) + ")";
            return noDriver;
        } catch (RuntimeException e) {
            return "CUDA failed to start: " + firstLine(e.getMessage());
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no message";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** The text of a PTX module on the class path. */
    static String ptx(String module) {
        try (InputStream in = CudaDevice.class.getResourceAsStream(module + ".ptx")) {
            if (in == null) {
                throw new IllegalStateException("no " + module + ".ptx on the class path (tools/gpu/build-ptx.sh)");
            }
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The device's name, as the driver gives it. */
    public String name() {
        return name;
    }

    /** Global memory in bytes. */
    public long memoryBytes() {
        return memoryBytes;
    }

    /** One line: name, memory, multiprocessors. */
    public String describe() {
        return name + " (" + (memoryBytes >> 30) + " GiB, " + multiprocessors + " SMs)";
    }

    /** Makes this device's context current on the calling thread. */
    public void use() {
        cuCtxSetCurrent(context);
    }

    /** Waits for everything launched so far. */
    public void sync() {
        cuCtxSynchronize();
    }

    /**
     * Launches kernel {@code name} with a 1-D or 2-D grid and block.
     *
     * @param args each argument as a {@link Pointer} to its value ({@link Args})
     */
    void launch(String name, int gridX, int gridY, int blockX, int blockY, Pointer... args) {
        CUfunction f = kernels.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no kernel " + name);
        }
        cuLaunchKernel(f, gridX, gridY, 1, blockX, blockY, 1, 0, null, Pointer.to(args), null);
    }

    @Override
    public void close() {
        cuCtxDestroy(context);
    }
}
