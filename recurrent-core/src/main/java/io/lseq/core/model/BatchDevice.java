package io.lseq.core.model;

/**
 * A device other than the CPU that can run the batch path, found at run time with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/io.lseq.core.model.BatchDevice}):
 * the gpu module provides {@code gpu}. Without such a module on the classpath the batch path
 * runs on the CPU ({@link BatchBackends}).
 */
public interface BatchDevice {
    /** The name {@code --device} gives it, e.g. {@code gpu}. */
    String name();

    /** Why this device cannot run {@code model} whatever the machine has (e.g. a GRU block), or null. */
    String unsupported(Model model);

    /** Why this machine has no usable device of this kind (e.g. no driver), in one line, or null. */
    String probe();

    /**
     * Opens the device and puts {@code model}, as loaded, onto it. The backend closes the device
     * with itself; its {@link BatchBackend#describe()} names the device.
     *
     * @throws DeviceUnavailableException when the device cannot be opened or the model does not fit
     */
    BatchBackend open(Model model);
}
