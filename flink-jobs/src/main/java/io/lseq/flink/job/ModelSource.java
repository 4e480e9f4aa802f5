package io.lseq.flink.job;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.model.Model;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
    /** The model as the client loaded it from these bytes; tasks load their own. */
    private final transient Model loaded;

    private ModelSource(String where, String config, byte[] weights) {
        this.where = where;
        this.config = config;
        this.weights = weights;
        this.loaded = Model.load(config, weights, where); // fails here, on the client, with the file and field named
    }

    /** Reads {@code dir}'s two files once and loads the model from them, which validates it. */
    public static ModelSource read(Path dir) {
        Path configFile = Model.configFile(dir);
        String config;
        try {
            config = Files.readString(configFile, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(configFile.toString(), "no such file");
        } catch (IOException e) {
            throw new ModelFormatException(configFile.toString(), "cannot read: " + e.getMessage(), e);
        }
        Path weightsFile = Model.weightsFile(dir);
        try {
            return new ModelSource(dir.toString(), config, Files.readAllBytes(weightsFile));
        } catch (IOException e) {
            throw new ModelFormatException(weightsFile.toString(), "cannot read: " + e.getMessage(), e);
        }
    }

    /** The model as loaded on the client, where this source was read; null once shipped to a task. */
    public Model clientModel() {
        return loaded;
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
