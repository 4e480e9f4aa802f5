package io.lseq.cli;

import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.file.JsonLinesReader;
import io.lseq.core.model.BatchBackends;
import io.lseq.core.model.Model;
import io.lseq.flink.backfill.Backfill;
import io.lseq.connectors.kafka.KafkaHistory;
import io.lseq.connectors.kafka.KafkaIO;
import io.lseq.flink.savepoint.SavepointBuilder;
import io.lseq.connectors.Endpoint;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Locale;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq backfill}: computes every key's state from a history with the batch path and
 * writes it as a savepoint that {@code lseq run --from-savepoint} continues from.
 */
@Command(name = "backfill", mixinStandardHelpOptions = true,
        header = "compute every key's state from a history (batch path) and write a savepoint for lseq run",
        customSynopsis = "lseq backfill --model DIR --input SRC --savepoint DIR [options]",
        description = "Reads a history of events, computes each key's state with the batch path (batched projections, "
            + "parallel LRU scan), and writes a Flink savepoint of the streaming job's scoring operator. Continue with: "
            + "lseq run --from-savepoint DIR ... (same --max-parallelism). Scores are not written.")
public final class BackfillCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "model directory (config.json + model.safetensors) (required)")
    Path modelDir;
    @Option(names = "--input", paramLabel = "SRC", required = true,
            description = "history: file:PATH (JSON Lines), a path, or kafka://HOST:PORT/TOPIC (required)")
    String input;
    @Option(names = "--savepoint", paramLabel = "DIR", required = true,
            description = "where to write the savepoint (must not exist) (required)")
    Path savepointDir;
    @Option(names = "--device", paramLabel = "D", completionCandidates = Devices.class, description = "auto, cpu or gpu "
            + "(default auto: the GPU when CUDA finds one and the model's blocks are all lru, else the CPU; it says which)")
    String device = "auto";
    @Option(names = "--until", paramLabel = "TS", description = "file: only events with ts <= TS (epoch ms; events without "
            + "ts count); Kafka: records stamped <= TS")
    Long until;
    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka: the streaming job's consumer group, whose offsets "
            + "are set to where the history stops (default lseq-MODELNAME, as lseq run)")
    String groupId;
    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE", description = "a Kafka client property (repeatable)")
    List<String> kafkaProperties = new ArrayList<>();
    @Option(names = "--threads", paramLabel = "N", description = "threads of the batch path (default: available processors)")
    int threads = Runtime.getRuntime().availableProcessors();
    @Option(names = "--window", paramLabel = "N", description = "events buffered per batch; a batch runs while the next "
            + "window is read and parsed (default 262,144)")
    int window = 1 << 18;
    @Option(names = "--max-parallelism", paramLabel = "N", description = "the streaming job's max parallelism (default 128)")
    int maxParallelism = 128;
    @Option(names = "--dead-letter", paramLabel = "FILE", description = "rejected lines, JSON Lines (default: standard error)")
    String deadLetter = "-";
    @Option(names = "--quiet", description = "no progress and no summary on standard error")
    boolean quiet;

    /** The values of --device, for shell completion. */
    static final class Devices extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        Devices() {
            super(List.of("auto", "cpu", "gpu"));
        }
    }

    @Override
    public Integer call() throws Exception {
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
        Path file = src.kafka() ? null : Path.of(src.target());
        if (file != null && !Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such input file");
        }
        Path savepoint = savepointDir.toAbsolutePath();
        if (Files.exists(savepoint)) {
            throw new UsageException("--savepoint " + savepoint + " exists; give a new directory");
        }
        Properties kafka = Main.properties("--kafka-property", kafkaProperties);
        String group = groupId != null ? groupId : KafkaIO.defaultGroupId(model.config().name());
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
                KafkaHistory.read(src, kafka, until, group, (value, key, source) -> {
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
        System.out.println(savepoint);
        return 0;
    }
}
