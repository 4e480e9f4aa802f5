package io.lseq.cli;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.file.JsonLinesReader;
import io.lseq.connectors.json.Json;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.io.BufferedOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq score}: scores a JSON Lines file of events in one process, keeping one state per key.
 * The reference the streaming job is tested against.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        header = "score a JSON Lines file of events, one state per key, in input order",
        customSynopsis = "lseq score --model DIR --input FILE --output FILE [--dead-letter FILE]",
        description = {"Reads events (EVENTS.md) from FILE, keeps one recurrent state per key, and writes one score per "
            + "valid event, in input order. Rejected lines go to the dead-letter file with their reason and line number, "
            + "and scoring goes on. Memory grows with the number of keys, not of events."})
public final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "model directory (config.json + model.safetensors) (required)")
    Path model;
    @Option(names = "--input", paramLabel = "FILE", required = true,
            description = "events, JSON Lines; - for standard input (required)")
    String input;
    @Option(names = "--output", paramLabel = "FILE", required = true,
            description = "scores, JSON Lines; - for standard output (required)")
    String output;
    @Option(names = "--dead-letter", paramLabel = "FILE", description = "rejected lines, JSON Lines (default: standard error)")
    String deadLetter = "-";
    @Option(names = "--quiet", description = "no progress and no summary on standard error")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        Model model = Model.load(this.model);
        long total = input.equals("-") ? 0 : size(Path.of(input));
        Counting in = new Counting(input.equals("-") ? System.in : Files.newInputStream(Path.of(input)));
        String sourceName = input.equals("-") ? "stdin" : input;
        try (JsonLinesReader reader = new JsonLinesReader(in, EventParser.MAX_RECORD_BYTES);
             OutputStream out = open(output, System.out);
             OutputStream dead = open(deadLetter, System.err)) {
            Progress progress = new Progress(System.err, "events", Progress.stderrIsTerminal(), 10);
            Stats stats = score(model, reader, sourceName, out, dead, quiet ? null : progress, in, total);
            if (!quiet) {
                progress.finish();
                double secs = progress.seconds();
                System.err.printf(Locale.ROOT, "lseq score: %,d events scored, %,d rejected, %,d keys, %.2f s (%,.0f events/s)%n",
                        stats.scored, stats.rejected, stats.keys, secs, (stats.scored + stats.rejected) / Math.max(secs, 1e-9));
            }
        }
        return 0;
    }

    /** What one run did. */
    record Stats(long scored, long rejected, int keys) {}

    static Stats score(Model model, JsonLinesReader reader, String sourceName, OutputStream out, OutputStream dead,
                       Progress progress, Counting in, long total) throws IOException {
        DeadLetters parser = new DeadLetters(new EventParser(model.config().input()), dead);
        Scorer scorer = model.newScorer();
        Map<String, KeyState> states = new HashMap<>();
        float[] values = new float[model.outputSize()];
        String name = model.config().name();
        boolean probs = model.emitsProbabilities();
        long scored = 0;
        while (reader.next()) {
            Event e = parser.parse(reader.bytes(), reader.length(), reader.totalLength(), null,
                    DeadLetter.fileSource(sourceName, reader.lineNumber()));
            if (e != null) {
                KeyState st = states.computeIfAbsent(e.key(), k -> model.newState());
                long seq = model.nextSeq(st);
                if (e.features() == null) {
                    scorer.stepToken(st, e.token(), values);
                } else {
                    scorer.stepFeatures(st, e.features(), values);
                }
                out.write(Json.score(new Score(e.key(), seq, e.ts(), e.id(), name, values, probs)));
                out.write('\n');
                scored++;
            }
            if (progress != null) {
                progress.step(in.count, total);
            }
        }
        return new Stats(scored, parser.rejected(), states.size());
    }

    private static long size(Path p) throws IOException {
        if (!Files.exists(p)) {
            throw new NoSuchFileException(p.toString(), null, "no such input file");
        }
        return Files.size(p);
    }

    /** A buffered output to a file, or to {@code std} for {@code -} (flushed, never closed). */
    static OutputStream open(String target, PrintStream std) throws IOException {
        if (target.equals("-")) {
            return new BufferedOutputStream(new FilterOutputStreamNoClose(std), 1 << 16);
        }
        Path p = Path.of(target);
        if (p.getParent() != null) {
            Files.createDirectories(p.getParent());
        }
        return new BufferedOutputStream(Files.newOutputStream(p), 1 << 16);
    }

    /** Counts bytes read, for progress. */
    static final class Counting extends FilterInputStream {
        long count;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }

    /** Flushes but never closes a standard stream. */
    private static final class FilterOutputStreamNoClose extends java.io.FilterOutputStream {
        FilterOutputStreamNoClose(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
