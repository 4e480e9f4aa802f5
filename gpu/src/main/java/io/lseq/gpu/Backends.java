package io.lseq.gpu;

import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.Model;
import java.nio.file.Path;

/** Picks the batch path's device: {@code --device auto|cpu|gpu} of {@code lseq backfill}. */
public final class Backends {
    private Backends() {}

    /**
     * The backend for {@code device}, and one line saying which it is and, for {@code auto}, why
     * not the GPU when it is the CPU.
     *
     * @param backend closes the device it opened
     * @param note for example "device gpu: NVIDIA H200 (139 GiB, 132 SMs)" or
     *     "device cpu (2 threads); not the GPU: no CUDA driver (...)"
     */
    public record Choice(BatchBackend backend, String note) {}

    /**
     * @param device auto (the GPU when CUDA finds one and the model runs there), cpu or gpu
     * @param dir the model's directory (the GPU reads the weights again)
     * @throws IllegalArgumentException for an unknown device, or gpu with a model the GPU cannot run
     * @throws GpuUnavailableException for gpu without a usable CUDA device
     */
    public static Choice open(String device, Model model, Path dir, int threads) {
        String cpuNote = "device cpu (" + threads + (threads == 1 ? " thread)" : " threads)");
        switch (device) {
            case "cpu":
                return new Choice(new BatchScorer(model, threads), cpuNote);
            case "gpu": {
                String why = GpuBatchScorer.unsupported(model.config());
                if (why != null) {
                    throw new IllegalArgumentException("--device gpu: " + why + "; use --device cpu");
                }
                return gpu(model, dir);
            }
            case "auto": {
                String why = GpuBatchScorer.unsupported(model.config());
                if (why == null) {
                    why = CudaDevice.probe();
                }
                if (why == null) {
                    try {
                        return gpu(model, dir);
                    } catch (RuntimeException e) { // no device, or the driver failed (out of memory, ...)
                        why = e.getMessage();
                    }
                }
                return new Choice(new BatchScorer(model, threads), cpuNote + "; not the GPU: " + why);
            }
            default:
                throw new IllegalArgumentException("--device must be auto, cpu or gpu, got '" + device + "'");
        }
    }

    private static Choice gpu(Model model, Path dir) {
        CudaDevice dev = CudaDevice.open();
        try {
            GpuBatchScorer scorer = GpuBatchScorer.load(dev, dir, model);
            BatchBackend owning = new BatchBackend() {
                @Override
                public void score(java.util.List<io.lseq.core.model.Sequence> batch) {
                    scorer.score(batch);
                }

                @Override
                public String describe() {
                    return scorer.describe();
                }

                @Override
                public void close() {
                    try {
                        scorer.close();
                    } finally {
                        dev.close();
                    }
                }
            };
            return new Choice(owning, "device gpu: " + dev.describe());
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }
}
