package io.lseq.flink.job;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.model.Model;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model's two files, read once on the client and shipped inside the job, so TaskManagers need
 * no access to the client's disk. Flink moves large job payloads through its blob server.
 */
public final class ModelSource implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String where;
    private final String config;
    private final byte[] weights;

    private ModelSource(String where, String config, byte[] weights) {
        this.where = where;
        this.config = config;
        this.weights = weights;
    }

    /** Reads {@code dir} and validates it by loading it once. */
    public static ModelSource read(Path dir) {
        Model.load(dir); // fail on the client, with the file and field named, not in a task
        try {
            return new ModelSource(dir.toString(), Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8),
                    Files.readAllBytes(dir.resolve("model.safetensors")));
        } catch (IOException e) {
            throw new ModelFormatException(dir.toString(), "cannot read: " + e.getMessage(), e);
        }
    }

    /** Loads the model (once per task). */
    public Model load() {
        return Model.load(config, weights, where);
    }

    /** Where it was read from. */
    public String where() {
        return where;
    }
}
