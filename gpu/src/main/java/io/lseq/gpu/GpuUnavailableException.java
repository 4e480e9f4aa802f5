package io.lseq.gpu;

import io.lseq.core.model.DeviceUnavailableException;

/** There is no usable CUDA device here; the message says why in one line. */
public final class GpuUnavailableException extends DeviceUnavailableException {
    private static final long serialVersionUID = 1L;

    /** @param message why, in one line */
    public GpuUnavailableException(String message) {
        super(message);
    }
}
