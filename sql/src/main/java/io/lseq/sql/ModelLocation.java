package io.lseq.sql;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.model.Model;
import io.lseq.flink.job.ModelSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.core.fs.FileSystem;

/**
 * Loads the model named by {@code LSEQ_SCORE}'s {@code model} argument: a local directory
 * ({@code /models/fraud-lru}, {@code file:///models/fraud-lru}) or any URI a Flink file system
 * reads ({@code s3://bucket/models/fraud-lru} with the S3 plugin). The planner reads it on the
 * client to type the state and the output; every task reads it again, so on a cluster the
 * location must be readable from the TaskManagers too.
 */
final class ModelLocation {
    /** Planning asks for the types several times per statement; one load per location and process. */
    private static final Map<String, Model> PLANNED = new ConcurrentHashMap<>();

    private ModelLocation() {}

    /** The model at {@code location}, loaded once per process (for planning). */
    static Model forPlanning(String location) {
        Model m = PLANNED.computeIfAbsent(location, ModelLocation::load);
        java.util.Set<Model> recording = RECORDING.get();
        if (recording != null) {
            recording.add(m);
        }
        return m;
    }

    /** The models planned by this thread while {@link SqlSavepointCheck#modelsPlannedBy} records, else null. */
    static final ThreadLocal<java.util.Set<Model>> RECORDING = new ThreadLocal<>();

    /** Loads the model at {@code location} afresh (a task's own copy). */
    static Model load(String location) {
        if (!location.contains("://")) {
            return ModelSource.read(Path.of(location)).load(); // the DataStream job's reader, with its messages
        }
        String dir = location.endsWith("/") ? location.substring(0, location.length() - 1) : location;
        String config = new String(read(dir + "/" + Model.configFile(Path.of("")).getFileName()), StandardCharsets.UTF_8);
        byte[] weights = read(dir + "/" + Model.weightsFile(Path.of("")).getFileName());
        return Model.load(config, weights, location);
    }

    private static byte[] read(String uri) {
        try {
            org.apache.flink.core.fs.Path p = new org.apache.flink.core.fs.Path(uri);
            FileSystem fs = p.getFileSystem();
            try (InputStream in = fs.open(p)) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                in.transferTo(out);
                return out.toByteArray();
            }
        } catch (IOException e) {
            throw new ModelFormatException(uri, "cannot read: " + e.getMessage(), e);
        }
    }
}
