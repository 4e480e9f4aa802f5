package io.lseq.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemsetD32;

import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;

/**
 * GPU benchmarks, run on the GPU machine by tools/gpu/device-check.sh; results go to
 * docs/BENCHMARKS.md.
 *
 * <pre>
 * GpuBench scan  [KxTxN,...]     the scan kernel's bandwidth (complex64, read + write) beside a
 *                                device-to-device copy of the same bytes, in the same run
 * GpuBench model DIR [KxT,...]   full-model tokens/s on the GPU (end to end, and the device span
 *                                without the events' upload and outputs' download) beside the CPU
 *                                batch path
 * </pre>
 */
public final class GpuBench {
    static final String SCAN_SHAPES = "1x4194304x256,64x65536x256,4096x1024x256";
    static final String MODEL_SHAPES = "64x16384,4096x256,1x1048576";
    static final int REPS = 5;

    private GpuBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || !(args[0].equals("scan") || args[0].equals("model"))) {
            System.out.println("usage: GpuBench scan [KxTxN,...]         (default " + SCAN_SHAPES + ")");
            System.out.println("       GpuBench model DIR [KxT,...] [--cpu-threads N]   (default " + MODEL_SHAPES + ")");
            System.exit(args.length > 0 && args[0].equals("--help") ? 0 : 2);
        }
        String why = CudaDevice.probe();
        if (why != null) {
            System.err.println("GpuBench: no GPU: " + why);
            System.exit(1);
        }
        try (CudaDevice dev = CudaDevice.open()) {
            System.out.println("device: " + dev.describe() + "; " + REPS + " timed repetitions after one warm-up, median");
            if (args[0].equals("scan")) {
                scan(dev, args.length > 1 ? args[1] : SCAN_SHAPES);
            } else {
                int threads = Runtime.getRuntime().availableProcessors();
                List<String> rest = new ArrayList<>(Arrays.asList(args).subList(2, args.length));
                int t = rest.indexOf("--cpu-threads");
                if (t >= 0) {
                    threads = Integer.parseInt(rest.get(t + 1));
                    rest.remove(t + 1);
                    rest.remove(t);
                }
                model(dev, Path.of(args[1]), rest.isEmpty() ? MODEL_SHAPES : rest.get(0), threads);
            }
        }
    }

    /** Milliseconds between two events around {@code body}. */
    private static float time(Runnable body) {
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        cuEventCreate(start, 0);
        cuEventCreate(stop, 0);
        cuEventRecord(start, null);
        body.run();
        cuEventRecord(stop, null);
        cuEventSynchronize(stop);
        float[] ms = new float[1];
        cuEventElapsedTime(ms, start, stop);
        cuEventDestroy(start);
        cuEventDestroy(stop);
        return ms[0];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double medianMs(Runnable body) {
        body.run();
        double[] ms = new double[REPS];
        for (int r = 0; r < REPS; r++) {
            ms[r] = time(body);
        }
        return median(ms);
    }

    static void scan(CudaDevice dev, String shapes) {
        for (String shape : shapes.split(",")) {
            String[] p = shape.split("x");
            int keys = Integer.parseInt(p[0]);
            int len = Integer.parseInt(p[1]);
            int n = Integer.parseInt(p[2]);
            long elements = (long) keys * len * n;
            long bytes = 8 * elements;
            try (DeviceBuffer u = new DeviceBuffer(); DeviceBuffer copy = new DeviceBuffer();
                    DeviceBuffer lambda = new DeviceBuffer(); DeviceBuffer powers = new DeviceBuffer();
                    DeviceBuffer h0 = new DeviceBuffer(); DeviceBuffer rowStart = new DeviceBuffer()) {
                u.reserve(bytes);
                copy.reserve(bytes);
                int[] starts = new int[keys + 1];
                for (int k = 0; k <= keys; k++) {
                    starts[k] = k * len;
                }
                rowStart.upload(starts, keys + 1);
                h0.reserve(8L * keys * n);
                h0.zero(2L * keys * n);
                SplittableRandom rnd = new SplittableRandom(1);
                double[] logMod = new double[n];
                double[] phase = new double[n];
                double[] lam = new double[2 * n];
                for (int i = 0; i < n; i++) {
                    logMod[i] = Math.log(0.5 + 0.4 * rnd.nextDouble());
                    phase[i] = Math.PI * rnd.nextDouble();
                    lam[2 * i] = Math.exp(logMod[i]) * Math.cos(phase[i]);
                    lam[2 * i + 1] = Math.exp(logMod[i]) * Math.sin(phase[i]);
                }
                lambda.upload(lam);
                double copyMs = medianMs(() -> cuMemcpyDtoD(copy.ptr(), u.ptr(), bytes));
                double copyGbs = 2.0 * bytes / copyMs / 1e6;
                System.out.printf("scan %-16s %6.2f GiB  copy d2d %7.1f GB/s (%.3f ms)%n", shape, bytes / (double) (1L << 30),
                        copyGbs, copyMs);
                for (String variant : LruScan.VARIANTS) {
                    try (LruScan scan = new LruScan(dev, variant)) {
                        powers.upload(scan.powers(logMod, phase));
                        // Correctness first: u = 1 + i everywhere, h0 = 0, so h_t = (1 + i)(1 - lambda^(t+1)) / (1 - lambda).
                        cuMemsetD32(u.ptr(), Float.floatToIntBits(1f), 2 * elements);
                        scan.run(u.ptr(), h0.ptr(), lambda.ptr(), powers.ptr(), rowStart.ptr(), starts, keys, n);
                        dev.sync();
                        double err = checkGeometric(u, keys, len, n, logMod, phase);
                        double ms = medianMs(() -> scan.run(u.ptr(), h0.ptr(), lambda.ptr(), powers.ptr(), rowStart.ptr(),
                                starts, keys, n));
                        double gbs = 2.0 * bytes / ms / 1e6;
                        System.out.printf("scan %-16s %-8s %7.1f GB/s = %5.1f%% of copy, %6.1f G elements/s (%.3f ms),"
                                + " max rel error %.2e%s%n", shape, variant, gbs, 100 * gbs / copyGbs, elements / ms / 1e6, ms, err,
                                err <= 1e-5 ? "" : "  WRONG");
                    }
                }
            }
        }
    }

    /** Largest relative error at sample rows of each key (first, last, and around tiles). */
    private static double checkGeometric(DeviceBuffer u, int keys, int len, int n, double[] logMod, double[] phase) {
        double worst = 0;
        float[] row = new float[2 * n];
        int[] ks = {0, keys / 2, keys - 1};
        int[] ts = {0, 1, 63, 64, 65, len / 2, len - 1};
        for (int k : ks) {
            for (int t : ts) {
                if (t < 0 || t >= len) {
                    continue;
                }
                long off = ((long) k * len + t) * n * 8;
                cuMemcpyDtoH(Pointer.to(row), u.ptr().withByteOffset(off), 8L * n);
                for (int i = 0; i < n; i++) {
                    // (1 + i)(1 - lambda^(t+1)) / (1 - lambda)
                    double m = Math.exp((t + 1) * logMod[i]);
                    double pr = 1 - m * Math.cos((t + 1) * phase[i]);
                    double pi = -m * Math.sin((t + 1) * phase[i]);
                    double lr = 1 - Math.exp(logMod[i]) * Math.cos(phase[i]);
                    double li = -Math.exp(logMod[i]) * Math.sin(phase[i]);
                    double d = lr * lr + li * li;
                    double gr = (pr * lr + pi * li) / d;
                    double gi = (pi * lr - pr * li) / d;
                    double wr = gr - gi;
                    double wi = gr + gi;
                    double e = Math.hypot(row[2 * i] - wr, row[2 * i + 1] - wi) / Math.hypot(wr, wi);
                    worst = Math.max(worst, e);
                }
            }
        }
        return worst;
    }

    static void model(CudaDevice dev, Path dir, String shapes, int cpuThreads) {
        Model model = Model.load(dir);
        int vocab = model.config().input().vocabSize();
        System.out.printf("model %s: %s, %,d parameters; CPU batch path on %d threads%n", dir, model.config().name(),
                model.parameterCount(), cpuThreads);
        try (GpuBatchScorer gpu = GpuBatchScorer.load(dev, model); BatchScorer cpu = new BatchScorer(model, cpuThreads)) {
            for (String shape : shapes.split(",")) {
                String[] p = shape.split("x");
                int keys = Integer.parseInt(p[0]);
                int len = Integer.parseInt(p[1]);
                long events = (long) keys * len;
                double[] gpuS = seconds(gpu, model, keys, len, vocab, REPS);
                double cpuS = seconds(cpu, model, keys, len, vocab, 1)[0];
                double mean = meanScore(gpu, model, keys, len, vocab);
                System.out.printf("model %-12s gpu %,12.0f tokens/s (device span %,13.0f)  cpu %,11.0f tokens/s  (%.1fx)"
                        + "  mean score %.6f%n", shape, events / gpuS[0], events / gpuS[1], events / cpuS, cpuS / gpuS[0], mean);
            }
        }
    }

    /** Token of event t of key k: the same formula as tools/gpu/jax_bench.py, so both score the same events. */
    static int token(int k, int t, int vocab) {
        return (int) (((long) k * 7919 + (long) t * 104729 + (long) t * t % 97) % vocab);
    }

    private static List<Sequence> batch(Model model, int keys, int len, int vocab) {
        List<Sequence> b = new ArrayList<>(keys);
        for (int k = 0; k < keys; k++) {
            int[] t = new int[len];
            for (int i = 0; i < len; i++) {
                t[i] = token(k, i, vocab);
            }
            b.add(new Sequence(model.newState(), t, null, new float[len * model.outputSize()]));
        }
        return b;
    }

    /**
     * Median seconds of one call over fresh states (events built outside the timing), and for the
     * GPU the median of its device span ({@link GpuBatchScorer#lastDeviceMillis}).
     */
    private static double[] seconds(BatchBackend backend, Model model, int keys, int len, int vocab, int reps) {
        backend.score(batch(model, keys, Math.min(len, 4096), vocab));
        double[] s = new double[reps];
        double[] device = new double[reps];
        for (int r = 0; r < reps; r++) {
            List<Sequence> b = batch(model, keys, len, vocab);
            long t0 = System.nanoTime();
            backend.score(b);
            s[r] = (System.nanoTime() - t0) / 1e9;
            device[r] = backend instanceof GpuBatchScorer g ? g.lastDeviceMillis() / 1e3 : s[r];
        }
        return new double[] {median(s), median(device)};
    }

    private static double meanScore(BatchBackend backend, Model model, int keys, int len, int vocab) {
        List<Sequence> b = batch(model, keys, len, vocab);
        backend.score(b);
        double sum = 0;
        for (Sequence s : b) {
            for (float v : s.out()) {
                sum += v;
            }
        }
        return sum / ((double) keys * len * model.outputSize());
    }
}
