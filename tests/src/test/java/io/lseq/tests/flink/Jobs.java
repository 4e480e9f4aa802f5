package io.lseq.tests.flink;

import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.connectors.Endpoint;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** Building, running and reading the output of the scoring job in tests. */
public final class Jobs {
    private Jobs() {}

    /** Options for a file-to-file job with a retained checkpoint directory. */
    static JobOptions fileJob(Path model, Path events, Path out, Path checkpoints) {
        JobOptions o = new JobOptions();
        o.model = model;
        o.source = Endpoint.parse("--source", "file:" + events);
        o.sink = Endpoint.parse("--sink", "file:" + out.resolve("scores"));
        o.deadLetter = Endpoint.parse("--dead-letter", "file:" + out.resolve("dead"));
        o.checkpointInterval = Duration.ofMillis(500);
        o.checkpointDir = checkpoints.toUri().toString();
        o.jobName = "test";
        return o;
    }

    /** The job's Flink configuration, keeping checkpoints after the job ends and never restarting. */
    static Configuration config(JobOptions o, boolean restart) {
        Configuration c = ScoringJob.configuration(o);
        c.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION, ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        if (!restart) {
            c.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        }
        return c;
    }

    /** Runs the job to its end on a MiniCluster. */
    static void run(JobOptions o) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(config(o, false));
        ScoringJob.build(env, o);
        env.execute(o.jobName);
    }

    /** Every line of every committed part file under {@code dir} (in-progress files start with a dot). */
    public static List<String> committedLines(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<String> lines = new ArrayList<>();
            for (Path f : files.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList()) {
                lines.addAll(Files.readAllLines(f));
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The newest retained checkpoint ({@code chk-N}) under the checkpoint directory. */
    static Path latestCheckpoint(Path checkpoints) throws IOException {
        try (Stream<Path> s = Files.walk(checkpoints, 2)) {
            return s.filter(p -> p.getFileName().toString().startsWith("chk-") && Files.exists(p.resolve("_metadata")))
                    .max(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString().substring(4))))
                    .orElseThrow(() -> new IllegalStateException("no retained checkpoint under " + checkpoints));
        }
    }

    /** Scores by "key/seq", from JSON lines; fails on a duplicate. */
    public static Map<String, Score> byKeySeq(List<String> lines) {
        Map<String, Score> out = new LinkedHashMap<>();
        for (String l : lines) {
            Score s = Json.parseScore(l);
            Score prev = out.put(s.key() + "/" + s.seq(), s);
            if (prev != null) {
                throw new AssertionError("duplicate score for " + s.key() + "/" + s.seq());
            }
        }
        return out;
    }

    /** What {@code lseq score} writes for {@code events}: the reference the job must equal. */
    static List<String> referenceScores(Path model, Path events, Path tmp) throws IOException {
        Path out = tmp.resolve("reference-" + System.nanoTime() + ".jsonl");
        int status = Main.run(new String[] {"score", "--model", model.toString(), "--input", events.toString(),
            "--output", out.toString(), "--dead-letter", tmp.resolve("reference-dead.jsonl").toString(), "--quiet"});
        if (status != 0) {
            throw new IllegalStateException("lseq score exited " + status);
        }
        return Files.readAllLines(out);
    }
}
