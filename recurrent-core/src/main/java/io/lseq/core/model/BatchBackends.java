package io.lseq.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Picks the batch path's device: {@code --device auto|cpu|NAME} of {@code lseq backfill}. */
public final class BatchBackends {
    private BatchBackends() {}

    /**
     * The backend for a device, and one line saying which it is and, for {@code auto}, why not
     * another device when it is the CPU.
     *
     * @param backend closes the device it opened
     * @param note for example "device gpu: NVIDIA H200 (139 GiB, 132 SMs)" or
     *     "device cpu (2 threads); not the GPU: no CUDA driver (...)"
     */
    public record Choice(BatchBackend backend, String note) {}

    /** The devices on the classpath besides the CPU, in ServiceLoader order. */
    public static List<BatchDevice> devices() {
        List<BatchDevice> found = new ArrayList<>();
        ServiceLoader.load(BatchDevice.class, BatchBackends.class.getClassLoader()).forEach(found::add);
        return found;
    }

    /** The device names {@code --device} takes here. */
    public static List<String> names() {
        List<String> names = new ArrayList<>(List.of("auto", "cpu"));
        devices().forEach(d -> names.add(d.name()));
        return names;
    }

    /**
     * @param device {@code auto} (the first device that can run the model, else the CPU), {@code cpu},
     *     or a device's name
     * @throws IllegalArgumentException for an unknown device, or a device that cannot run this model
     * @throws DeviceUnavailableException for a named device this machine cannot use
     */
    public static Choice open(String device, Model model, int threads) {
        String cpuNote = "device cpu (" + threads + (threads == 1 ? " thread)" : " threads)");
        if (device.equals("cpu")) {
            return new Choice(new BatchScorer(model, threads), cpuNote);
        }
        List<BatchDevice> devices = devices();
        if (device.equals("auto")) {
            StringBuilder whyNot = new StringBuilder();
            for (BatchDevice d : devices) {
                String why = d.unsupported(model);
                if (why == null) {
                    why = d.probe();
                }
                if (why == null) {
                    try {
                        return opened(d, model);
                    } catch (RuntimeException e) { // no device after all, or the driver failed (out of memory, ...)
                        why = e.getMessage();
                    }
                }
                whyNot.append("; not the ").append(d.name().toUpperCase(java.util.Locale.ROOT)).append(": ").append(why);
            }
            return new Choice(new BatchScorer(model, threads), cpuNote + whyNot);
        }
        for (BatchDevice d : devices) {
            if (d.name().equals(device)) {
                String why = d.unsupported(model);
                if (why != null) {
                    throw new IllegalArgumentException("--device " + device + ": " + why + "; use --device cpu");
                }
                return opened(d, model);
            }
        }
        throw new IllegalArgumentException("--device must be one of " + String.join(", ", names()) + ", got '" + device
                + "'");
    }

    private static Choice opened(BatchDevice d, Model model) {
        BatchBackend b = d.open(model);
        return new Choice(b, "device " + d.name() + ": " + b.describe());
    }
}
