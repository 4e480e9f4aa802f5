package io.lseq.connectors.event;

/**
 * A record that is not a valid event. Its message is the dead letter's {@code error}: it says
 * what is wrong in the words of EVENTS.md, e.g. {@code token 9000 out of range [0, 512)}.
 */
public class InvalidEventException extends Exception {
    private static final long serialVersionUID = 1L;

    /** @param reason what is wrong with the record */
    public InvalidEventException(String reason) {
        super(reason, null, false, false);
    }
}
