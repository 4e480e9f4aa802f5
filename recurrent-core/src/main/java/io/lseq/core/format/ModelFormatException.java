package io.lseq.core.format;

/**
 * A model directory that does not follow MODEL_FORMAT.md. The message always starts with the
 * file it concerns and names the field or tensor at fault, so that a user can fix the export
 * without reading engine code.
 */
public class ModelFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the file at fault, as the user would name it (for example {@code model.safetensors})
     * @param message what is wrong, naming the field or tensor
     */
    public ModelFormatException(String file, String message) {
        super(file + ": " + message);
    }

    /**
     * @param file the file at fault
     * @param message what is wrong, naming the field or tensor
     * @param cause the underlying error
     */
    public ModelFormatException(String file, String message, Throwable cause) {
        super(file + ": " + message, cause);
    }
}
