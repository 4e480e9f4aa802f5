package io.lseq.gpu;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory that grows on demand and is reused between calls: a batch allocates only when it
 * is larger than every batch before it.
 */
final class DeviceBuffer implements AutoCloseable {
    private CUdeviceptr ptr = new CUdeviceptr();
    private long bytes;

    /** Makes room for at least {@code need} bytes (old contents are lost when it grows). */
    CUdeviceptr reserve(long need) {
        if (need > bytes) {
            close();
            ptr = new CUdeviceptr();
            cuMemAlloc(ptr, Math.max(need, 4));
            bytes = need;
        }
        return ptr;
    }

    CUdeviceptr ptr() {
        return ptr;
    }

    /** Copies {@code values} in, growing first. */
    CUdeviceptr upload(float[] values, int count) {
        reserve(4L * count);
        if (count > 0) {
            cuMemcpyHtoD(ptr, Pointer.to(values), 4L * count);
        }
        return ptr;
    }

    CUdeviceptr upload(int[] values, int count) {
        reserve(4L * count);
        if (count > 0) {
            cuMemcpyHtoD(ptr, Pointer.to(values), 4L * count);
        }
        return ptr;
    }

    CUdeviceptr upload(double[] values) {
        reserve(8L * values.length);
        cuMemcpyHtoD(ptr, Pointer.to(values), 8L * values.length);
        return ptr;
    }

    /** Copies the first {@code count} floats out. */
    void download(float[] into, int count) {
        if (count > 0) {
            cuMemcpyDtoH(Pointer.to(into), ptr, 4L * count);
        }
    }

    /** Sets the first {@code ints} 32-bit words to zero. */
    void zero(long ints) {
        cuMemsetD32(ptr, 0, ints);
    }

    @Override
    public void close() {
        if (bytes > 0) {
            cuMemFree(ptr);
            bytes = 0;
        }
    }
}
