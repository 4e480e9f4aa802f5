package io.lseq.gpu;

import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.BatchDevice;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.util.List;

/**
 * The {@code gpu} batch device: CUDA device 0 through JCuda's driver API, for models whose blocks
 * are all LRU. Registered in {@code META-INF/services/io.lseq.core.model.BatchDevice}.
 */
public final class GpuDevice implements BatchDevice {
    @Override
    public String name() {
        return "gpu";
    }

    @Override
    public String unsupported(Model model) {
        return GpuBatchScorer.unsupported(model.config());
    }

    @Override
    public String probe() {
        return CudaDevice.probe();
    }

    @Override
    public BatchBackend open(Model model) {
        CudaDevice dev = CudaDevice.open();
        try {
            GpuBatchScorer scorer = GpuBatchScorer.load(dev, model);
            return new BatchBackend() {
                @Override
                public void score(List<Sequence> batch) {
                    scorer.score(batch);
                }

                @Override
                public String describe() {
                    return dev.describe();
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
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }
}
