package io.lseq.core.model;

/** A batch device that was asked for cannot be used here; the message says why in one line. */
public class DeviceUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message why, in one line */
    public DeviceUnavailableException(String message) {
        super(message);
    }
}
