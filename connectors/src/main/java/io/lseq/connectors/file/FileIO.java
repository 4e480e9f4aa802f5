package io.lseq.connectors.file;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.RawRecord;
import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import org.apache.flink.api.common.serialization.Encoder;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;

/**
 * The JSON Lines file wiring. A file source reads one file to its end (a bounded job). A file
 * sink writes a directory of part files, {@code PREFIX-<uuid>-<subtask>-<n>.jsonl}, committed
 * exactly once at checkpoints (in-progress files are hidden, with a leading dot, until then).
 */
public final class FileIO {
    private FileIO() {}

    /** A bounded source of the file's lines. */
    public static FileSource<RawRecord> source(Endpoint ep) {
        return FileSource.forRecordStreamFormat(new JsonLinesFormat(ep.target()), new Path(ep.target())).build();
    }

    /** An exactly-once sink of one JSON object per line into the directory {@code ep.target()}. */
    public static <T> FileSink<T> sink(Endpoint ep, String prefix, Encoder<T> encoder) {
        return FileSink.forRowFormat(new Path(ep.target()), encoder)
                .withBucketAssigner(new BasePathBucketAssigner<>())
                .withRollingPolicy(OnCheckpointRollingPolicy.build())
                .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix(prefix).withPartSuffix(".jsonl").build())
                .build();
    }

    /** Scores as JSON Lines. */
    public static FileSink<Score> scoreSink(Endpoint ep) {
        return sink(ep, "scores", (s, out) -> {
            out.write(Json.score(s));
            out.write('\n');
        });
    }

    /** Dead letters as JSON Lines. */
    public static FileSink<DeadLetter> deadLetterSink(Endpoint ep) {
        return sink(ep, "dead-letters", (d, out) -> {
            out.write(Json.deadLetter(d));
            out.write('\n');
        });
    }
}
