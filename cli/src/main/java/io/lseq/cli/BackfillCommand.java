package io.lseq.cli;

import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.file.JsonLinesReader;
import io.lseq.core.model.BatchBackends;
import io.lseq.core.model.Model;
import io.lseq.flink.backfill.Backfill;
import io.lseq.flink.backfill.BackfillJob;
import io.lseq.flink.job.ModelSource;
import io.lseq.connectors.kafka.KafkaHistory;
import io.lseq.connectors.kafka.KafkaIO;
import io.lseq.flink.savepoint.SavepointBuilder;
import io.lseq.flink.savepoint.SourceOffsets;
import io.lseq.connectors.Endpoint;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq backfill}: computes every key's state from a history with the batch path and
 * writes it as a savepoint that {@code lseq run --from-savepoint} continues from.
 */
@Command(name = "backfill", mixinStandardHelpOptions = true,
        header = "compute every key's state from a history (batch path) and write a savepoint for lseq run",
        customSynopsis = "lseq backfill --model DIR --input SRC --savepoint DIR [--jobmanager HOST:PORT] [options]",
        description = "Reads a history of events, computes each key's state with the batch path (batched projections, "
            + "parallel LRU scan), and writes a Flink savepoint of the streaming job's scoring operator. Continue with: "
            + "lseq run --from-savepoint DIR ... (same --max-parallelism). Scores are not written. Without --jobmanager "
            + "it runs in this process; with it, as a Flink BATCH job on that cluster (the job jar is submitted over "
            + "REST; TaskManagers read the input and write the savepoint, so both must be paths they can reach), and "
            + "this command waits for the job to finish.")
public final class BackfillCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "model directory (config.json + model.safetensors) (required)")
    Path modelDir;
    @Option(names = "--input", paramLabel = "SRC", required = true,
            description = "history: file:PATH (JSON Lines), a path, or kafka://HOST:PORT/TOPIC (required)")
    String input;
    @Option(names = "--savepoint", paramLabel = "DIR", required = true,
            description = "where to write the savepoint (must not exist) (required); with --jobmanager a path or URI the "
                + "cluster can write (file:///..., s3://...)")
    String savepointDir;
    @Option(names = "--jobmanager", paramLabel = "HOST:PORT",
            description = "run as a Flink BATCH job on this cluster's REST endpoint instead of in this process")
    JobManagerAddress jobmanager;
    @Option(names = "--parallelism", paramLabel = "N", description = "with --jobmanager: the job's parallelism (default 1)")
    Integer parallelism;
    @Option(names = "--device", paramLabel = "D", completionCandidates = Devices.class, description = "auto, cpu or gpu "
            + "(default auto: the GPU when CUDA finds one and the model's blocks are all lru, else the CPU; it says which)")
    String device = "auto";
    @Option(names = "--until", paramLabel = "TS", description = "file: only events with ts <= TS (epoch ms; events without "
            + "ts count); Kafka: records stamped <= TS")
    Long until;
    @Option(names = "--until-savepoint", paramLabel = "PATH", description = "Kafka: stop each partition where a savepoint "
            + "of the streaming job (lseq stop) recorded its source's position, so the history ends exactly where that job "
            + "stopped (not with --until)")
    String untilSavepoint;
    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka: the streaming job's consumer group, whose offsets "
            + "are set to where the history stops (default lseq-MODELNAME, as lseq run)")
    String groupId;
    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE", description = "a Kafka client property (repeatable)")
    List<String> kafkaProperties = new ArrayList<>();
    @Option(names = "--threads", paramLabel = "N", description = "threads of the batch path (default: available processors; "
            + "with --jobmanager per subtask, default 1)")
    Integer threads;
    @Option(names = "--window", paramLabel = "N", description = "events buffered per batch; a batch runs while the next "
            + "window is read and parsed (default 262,144)")
    int window = 1 << 18;
    @Option(names = "--max-parallelism", paramLabel = "N", description = "the streaming job's max parallelism (default 128)")
    int maxParallelism = 128;
    @Option(names = "--dead-letter", paramLabel = "FILE", description = "rejected lines, JSON Lines (default: standard error); "
            + "with --jobmanager file:DIR (part files) or kafka://HOST:PORT/TOPIC (default: the TaskManagers' standard error)")
    String deadLetter = "-";
    @Option(names = "--quiet", description = "no progress and no summary on standard error")
    boolean quiet;
    /**
     * With --until-savepoint: the consumer group of the job that wrote the savepoint, for a
     * partition it had not read yet (null: --group-id's, the same job). Set by lseq upgrade, whose
     * new job may have another group than the stopped one.
     */
    String savepointJobGroup;

    /** The values of --device, for shell completion. */
    static final class Devices extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        Devices() {
            super(List.of("auto", "cpu", "gpu"));
        }
    }

    @Override
    public Integer call() throws Exception {
        System.out.println(backfill());
        return 0;
    }

    /** Runs the backfill (here or on the cluster) and returns where its savepoint is. */
    String backfill() throws Exception {
        Model model = Model.load(modelDir);
        if (!BatchBackends.names().contains(device)) {
            throw new UsageException("--device must be " + String.join(", ", BatchBackends.names()) + ", got '"
                    + device + "'");
        }
        Endpoint src;
        try {
            src = input.contains(":") ? Endpoint.parse("--input", input) : new Endpoint(false, null, input);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        long until = this.until != null ? this.until : Long.MAX_VALUE;
        if (untilSavepoint != null && (!src.kafka() || this.until != null)) {
            throw new UsageException("--until-savepoint needs a Kafka --input and no --until");
        }
        if (jobmanager != null) {
            return onCluster(src);
        }
        if (parallelism != null) {
            throw new UsageException("--parallelism needs --jobmanager (in one process, --threads)");
        }
        int threads = this.threads != null ? positive("--threads", this.threads) : Runtime.getRuntime().availableProcessors();
        Path file = src.kafka() ? null : Path.of(src.target());
        if (file != null && !Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such input file");
        }
        Path savepoint = Path.of(savepointDir).toAbsolutePath();
        if (Files.exists(savepoint)) {
            throw new UsageException("--savepoint " + savepoint + " exists; give a new directory");
        }
        Properties kafka = Main.properties("--kafka-property", kafkaProperties);
        String group = groupId != null ? groupId : KafkaIO.defaultGroupId(model.config().name());
        // Resolved before any work, so that a savepoint of another topic fails at once.
        Map<TopicPartition, Long> stop = null;
        if (untilSavepoint != null) {
            try {
                stop = SourceOffsets.historyStop(untilSavepoint, src, kafka,
                        savepointJobGroup != null ? savepointJobGroup : group);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--until-savepoint " + untilSavepoint + ": " + e.getMessage());
            }
        }
        BatchBackends.Choice choice;
        try {
            choice = BatchBackends.open(device, model, threads);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        if (!quiet) {
            System.err.println("lseq backfill: " + choice.note());
        }
        // The savepoint writer's first use loads Flink's state classes: done beside the reading.
        java.util.concurrent.CompletableFuture<Void> warm = java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
                SavepointBuilder.warmUp(model);
            } catch (Exception e) {
                // Only a warm-up: the real write reports its own errors.
            }
        });
        long[] skipped = new long[1]; // events after --until
        Progress progress = new Progress(System.err, "events", Progress.stderrIsTerminal(), 10);
        try (OutputStream dead = ScoreCommand.open(deadLetter, System.err);
             Backfill backfill = new Backfill(model, choice.backend(), window);
             ParallelParser parser = new ParallelParser(model.config().input(), threads, dead,
                     file == null ? null : file.toString(), e -> {
                         // --until on files; Kafka's history stops at it by itself
                         if (file != null && e.ts() != null && e.ts() > until) {
                             skipped[0]++;
                         } else {
                             backfill.add(e);
                         }
                     })) {
            if (file != null) {
                ScoreCommand.Counting in = new ScoreCommand.Counting(Files.newInputStream(file));
                long total = Files.size(file);
                try (JsonLinesReader reader = new JsonLinesReader(in, EventParser.MAX_RECORD_BYTES)) {
                    while (reader.next()) {
                        parser.add(reader.bytes(), reader.length(), reader.totalLength(), null, reader.lineNumber(), null);
                        if (!quiet) {
                            progress.step(in.count, total);
                        }
                    }
                }
            } else {
                KafkaHistory.read(src, kafka, until, stop, group, (value, key, source) -> {
                    try {
                        parser.add(value, value.length, value.length, key, 0, source);
                    } catch (RuntimeException e) {
                        throw e;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    if (!quiet) {
                        progress.step(0, 0);
                    }
                });
            }
            parser.finish();
            backfill.finish();
            progress.finish();
            double secs = progress.seconds();
            warm.join();
            long written = System.nanoTime();
            SavepointBuilder.write(model, backfill.states(), savepoint.toUri().toString(), maxParallelism);
            if (!quiet) {
                double write = (System.nanoTime() - written) / 1e9;
                System.err.printf(Locale.ROOT, "lseq backfill: %,d events, %,d keys, %,d rejected, %,d after --until; "
                        + "%.1f s (%,.0f events/s); batch path %.1f s of it, overlapping reading and parsing; "
                        + "savepoint %.1f s. Savepoint: %s%s%n", backfill.events(), backfill.states().size(),
                        parser.rejected(), skipped[0], secs + write, backfill.events() / Math.max(secs + write, 1e-9),
                        backfill.scoringSeconds(), write, savepoint,
                        file == null ? "; offsets committed for group " + group : "");
            }
        }
        return savepoint.toString();
    }

    /** {@code --jobmanager}: the backfill as a BATCH job on that cluster; waits for it, then returns the savepoint. */
    private String onCluster(Endpoint src) throws Exception {
        BackfillJob.Options o = clusterOptions(src);
        ModelSource model = ModelSource.read(modelDir);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createRemoteEnvironment(jobmanager.host(),
                jobmanager.port(), BackfillJob.configuration(o), RunCommand.jobJar().toString());
        if (!quiet) {
            System.err.println("lseq backfill: a BATCH job on " + jobmanager + " at parallelism " + o.parallelism + ": "
                    + o.input + " -> " + o.savepoint);
        }
        BackfillJob.Result r;
        Thread self = Thread.currentThread();
        ClassLoader before = self.getContextClassLoader();
        self.setContextClassLoader(new WithoutFlinkAvro(before));
        try {
            r = BackfillJob.run(env, o, model);
        } finally {
            self.setContextClassLoader(before);
        }
        if (!quiet) {
            double secs = r.netRuntimeMillis() / 1000.0;
            System.err.printf(Locale.ROOT, "lseq backfill: %,d events, %,d keys on the cluster in %.1f s (%,.0f events/s, "
                    + "job run time). Savepoint: %s%s%n", r.events(), r.keys(), secs, r.events() / Math.max(secs, 1e-9),
                    o.savepoint, r.group() == null ? "" : "; offsets committed for group " + r.group());
        }
        return o.savepoint;
    }

    /**
     * The cluster job's options from this command line; also the entry class's
     * ({@link BackfillJobMain}), which runs it where {@code flink run} puts it.
     */
    BackfillJob.Options clusterOptions(Endpoint src) {
        BackfillJob.Options o = new BackfillJob.Options();
        if (src.kafka()) {
            o.input = src;
        } else { // absolute: TaskManagers open it, not this process
            Path file = Path.of(src.target()).toAbsolutePath().normalize();
            if (!Files.isRegularFile(file)) {
                throw new UsageException("--input " + file + ": no such file");
            }
            o.input = new Endpoint(false, null, file.toString());
        }
        if (RunCommand.hasScheme(savepointDir)) {
            o.savepoint = savepointDir;
        } else {
            Path local = Path.of(savepointDir).toAbsolutePath().normalize();
            if (Files.exists(local)) {
                throw new UsageException("--savepoint " + local + " exists; give a new directory");
            }
            o.savepoint = local.toUri().toString();
        }
        o.device = device;
        o.threads = threads != null ? positive("--threads", threads) : 1;
        o.window = window;
        o.until = until != null ? until : Long.MAX_VALUE;
        o.untilSavepoint = untilSavepoint == null || RunCommand.hasScheme(untilSavepoint) ? untilSavepoint
                : Path.of(untilSavepoint).toAbsolutePath().normalize().toString();
        o.groupId = groupId;
        o.savepointJobGroup = savepointJobGroup;
        o.kafkaProperties = Main.properties("--kafka-property", kafkaProperties);
        if (!"-".equals(deadLetter)) {
            try {
                Endpoint d = Endpoint.parse("--dead-letter", deadLetter);
                o.deadLetter = d.kafka() ? d
                        : new Endpoint(false, null, Path.of(d.target()).toAbsolutePath().normalize().toString());
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        o.parallelism = parallelism != null ? parallelism : 1;
        o.maxParallelism = maxParallelism;
        if (o.parallelism < 1 || o.parallelism > o.maxParallelism) {
            throw new UsageException("--parallelism must be 1.." + o.maxParallelism + " (--max-parallelism), got "
                    + o.parallelism);
        }
        o.jobName = "lseq backfill " + modelDir.getFileName();
        return o;
    }

    private static int positive(String option, int n) {
        if (n < 1) {
            throw new UsageException(option + " must be at least 1, got " + n);
        }
        return n;
    }

    /**
     * The class loader the job graph is built with: this process's, but without flink-avro
     * (here for lseq sql). Flink's Kryo serializers, which the State Processor API's own types
     * take, register Avro's classes when the context class loader finds flink-avro, and the
     * cluster, whose job jar and lib/ have no Avro, then cannot even read the job graph
     * ({@code ClassNotFoundException: org.apache.avro.generic.GenericData$Array}).
     */
    private static final class WithoutFlinkAvro extends ClassLoader {
        WithoutFlinkAvro(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("org.apache.flink.formats.avro.")) {
                throw new ClassNotFoundException(name);
            }
            return super.loadClass(name, resolve);
        }
    }
}
