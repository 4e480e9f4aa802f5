package io.lseq.cli;

/** A command line that cannot be run as given; the message says what to change. */
public class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong with the command line */
    public UsageException(String message) {
        super(message);
    }
}
