package io.lseq.bench;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.connectors.RawRecord;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.TimeUtils;

/**
 * Throughput of the streaming scoring job on a local MiniCluster at parallelism 1, beside Flink's
 * own floor, in one JVM: the same bounded source of JSON token events, the job's own parsing,
 * {@code keyBy(key)}, then either the job's {@code ScoringOperator} (on hashmap and on RocksDB)
 * or a stateless pass-through keyed operator (the floor), then a discarding sink. Rounds run
 * the variants interleaved, after warm-up rounds; ratios to the floor are taken per round, then
 * the median. A run's time is from the source's first record to the sink's last score (job
 * start-up and the final checkpoint are outside it); its CPU time is the process CPU time over
 * the same span. Run with {@code bin/lseq-bench stream} (see docs/BENCHMARKS.md).
 */
public final class StreamBench extends BenchCommand {
    private static final String USAGE = String.join("\n",
            "usage: bin/lseq-bench stream [--events N] [--floor-events M] [--keys K] [--rounds R] [--warmup W] [--rate R]",
            "                             [--model DIR] [--checkpoint-interval D] [--variants LIST] [--seed S]",
            "",
            "Events/s of the lseq scoring job (MiniCluster, parallelism 1) on hashmap and on RocksDB, beside the",
            "same job with a pass-through keyed operator instead of the scoring operator (Flink's floor), in one JVM.",
            "",
            "  --events N               events per scoring run (default 400000)",
            "  --floor-events M         events per floor run (default 50 x N: the floor is ~100x faster, and a run",
            "                           should last >= 10 s; rates are per event; it cycles over the same N events)",
            "  --keys K                 distinct keys, uniform (default 1000)",
            "  --rounds R               measured rounds, each runs every variant once (default 3)",
            "  --warmup W               warm-up rounds before them, not reported in the medians (default 1)",
            "  --model DIR              model directory (default examples/models/reference-lru)",
            "  --checkpoint-interval D  checkpoint interval, e.g. 10s (default 10s, the job's default)",
            "  --variants LIST          comma-separated, of hashmap, rocksdb, floor, engine, batched (default the first",
            "                           four); batched: hashmap with micro-batches of --micro-batch events;",
            "                           engine: the same events stepped through the model in one thread (states",
            "                           in an array, no Flink, no JSON), what the scoring operator can at most reach",
            "  --seed S                 seed of the events (default 42)",
            "  --micro-batch M          events per micro-batch of the batched variant (default 16)",
            "  --micro-batch-wait D     their longest wait (default 5ms)",
            "  --rate R                 events/s the source emits at most (default: as fast as it can); with a rate,",
            "                           the latency columns show what micro-batches add at that load",
            "",
            "JVM options: LSEQ_JAVA_OPTS (e.g. -XX:StartFlightRecording=...).");

    enum Variant {
        HASHMAP("hashmap", "scoring, hashmap"),
        ROCKSDB("rocksdb", "scoring, rocksdb"),
        FLOOR("floor", "pass-through, hashmap"),
        ENGINE("engine", "model step alone, no Flink"),
        BATCHED("batched", "scoring, hashmap, micro-batches");

        final String id;
        final String what;

        Variant(String id, String what) {
            this.id = id;
            this.what = what;
        }

        String backend() {
            return this == ROCKSDB ? "rocksdb" : "hashmap";
        }

        static Variant of(String s) {
            for (Variant v : values()) {
                if (v.id.equals(s)) {
                    return v;
                }
            }
            throw new IllegalArgumentException("unknown variant '" + s + "' (hashmap, rocksdb, floor, engine, batched)");
        }
    }

    /** One run's measurements. */
    record Run(int round, Variant variant, long events, double seconds, double cpuSeconds, double keyedThreadCpu,
            double sourceThreadCpu, double netRuntime, long count, double checksum, double p50, double p99) {
        double eventsPerSecond() {
            return events / seconds;
        }

        double eventsPerCpuSecond() {
            return events / cpuSeconds;
        }
    }

    private long events = 400_000;
    private long floorEvents = -1;
    private int keys = 1_000;
    private int rounds = 3;
    private int warmup = 1;
    private Path modelDir;
    private Duration checkpointInterval = Duration.ofSeconds(10);
    private List<Variant> variants = List.of(Variant.HASHMAP, Variant.ROCKSDB, Variant.FLOOR, Variant.ENGINE);
    private long seed = 42;
    private int microBatch = 16;
    private Duration microBatchWait = Duration.ofMillis(5);
    private double rate;

    private ModelSource modelSource;
    private Model model;
    private Path checkpoints;

    public static void main(String[] args) throws Exception {
        new StreamBench().main("lseq-bench stream", args);
    }

    @Override
    protected String usage() {
        return USAGE;
    }

    @Override
    protected void option(String a, String v) {
        switch (a) {
            case "--events" -> events = positive(a, v);
            case "--floor-events" -> floorEvents = positive(a, v);
            case "--keys" -> keys = (int) positive(a, v);
            case "--rounds" -> rounds = (int) positive(a, v);
            case "--warmup" -> warmup = (int) nonNegative(a, v);
            case "--model" -> modelDir = Path.of(v);
            case "--checkpoint-interval" -> checkpointInterval = TimeUtils.parseDuration(v);
            case "--variants" -> variants = Arrays.stream(v.split(",")).map(String::trim).map(Variant::of).distinct().toList();
            case "--seed" -> seed = Long.parseLong(v);
            case "--micro-batch" -> microBatch = (int) positive(a, v);
            case "--micro-batch-wait" -> microBatchWait = TimeUtils.parseDuration(v);
            case "--rate" -> rate = positive(a, v);
            default -> throw new IllegalArgumentException("unknown option '" + a + "'");
        }
    }

    @Override
    protected void validate() {
        if (floorEvents < 0) {
            floorEvents = 50 * events;
        }
        if (events > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--events must be below 2^31");
        }
    }

    @Override
    protected void run() throws Exception {
        if (modelDir == null) {
            modelDir = StepBenchmark.examples().resolve("models").resolve("reference-lru");
        }
        modelSource = ModelSource.read(modelDir);
        model = modelSource.load();
        if (!model.config().input().tokens()) {
            throw new IllegalArgumentException("the model must take tokens: " + modelDir);
        }
        long t0 = System.nanoTime();
        BenchEvents.prepare(seed, (int) events, keys, model.config().input().vocabSize());
        double prepSeconds = (System.nanoTime() - t0) / 1e9;
        checkpoints = Files.createTempDirectory("lseq-stream-bench-checkpoints");
        try {
            printSettings(prepSeconds);
            List<Run> runs = new ArrayList<>();
            System.out.println();
            System.out.println("| round | variant | events | s | events/s | CPU s | events/CPU-s | keyed task CPU | source task CPU | net runtime s | latency p50 / p99 µs | checksum |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            for (int r = 1 - warmup; r <= rounds; r++) {
                for (Variant v : variants) {
                    Run run = runOnce(r, v);
                    System.out.println(row(run));
                    if (r >= 1) {
                        runs.add(run);
                    }
                }
            }
            summary(runs);
        } finally {
            deleteTree(checkpoints);
        }
    }

    /**
     * One run of the scoring job (hashmap backend, parallelism 1, checkpoints every 10 s) over
     * {@code events} uniform token events on {@code keys} keys, for the comparison report.
     *
     * @return events per second, from the source's first record to the sink's last score
     */
    public static double scoringJobEventsPerSecond(Path modelDir, long events, int keys, long seed) throws Exception {
        StreamBench b = new StreamBench();
        b.modelDir = modelDir;
        b.events = events;
        b.floorEvents = events;
        b.keys = keys;
        b.seed = seed;
        b.modelSource = ModelSource.read(modelDir);
        b.model = b.modelSource.load();
        BenchEvents.prepare(seed, (int) events, keys, b.model.config().input().vocabSize());
        b.checkpoints = Files.createTempDirectory("lseq-compare-checkpoints");
        try {
            return b.runOnce(1, Variant.HASHMAP).eventsPerSecond();
        } finally {
            deleteTree(b.checkpoints);
        }
    }

    private void printSettings(double prepSeconds) {
        Runtime rt = Runtime.getRuntime();
        String gcs = ManagementFactory.getGarbageCollectorMXBeans().stream().map(GarbageCollectorMXBean::getName)
                .collect(Collectors.joining(", "));
        System.out.println("# lseq stream benchmark, " + ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        System.out.printf(Locale.ROOT, "model:               %s (%s; input tokens V=%d; output size %d)%n", modelDir,
                model.config().name(), model.config().input().vocabSize(), model.outputSize());
        System.out.printf(Locale.ROOT, "events:              %,d per scoring run, %,d per floor run (the same %,d events, cycled)%n",
                events, floorEvents, events);
        System.out.printf(Locale.ROOT, "keys:                %,d (uniform), seed %d; %,d bytes of JSON prepared in %.2f s%n", keys, seed,
                BenchEvents.preparedBytes(), prepSeconds);
        System.out.printf(Locale.ROOT, "rounds:              %d measured after %d warm-up, variants %s%n", rounds, warmup,
                variants.stream().map(v -> v.id + " (" + v.what + ")").collect(Collectors.joining(", ")));
        System.out.println("job:                 DataGeneratorSource(JSON bytes) -> ScoringJob.parse -> keyBy(key) -> "
                + "ScoringOperator | pass-through -> discarding sink");
        System.out.printf(Locale.ROOT, "source rate:         %s; batched variant: micro-batches of %d, wait %s%n",
                rate > 0 ? String.format(Locale.ROOT, "%,.0f events/s at most", rate) : "unlimited", microBatch,
                TimeUtils.formatWithHighestUnit(microBatchWait));
        System.out.println("latency:             the scoring operator's latencyNanos histogram (arrival -> score, last 4,096 "
                + "events of a run)");
        System.out.printf(Locale.ROOT, "flink:               %s, local MiniCluster, parallelism 1, max parallelism %d, "
                + "checkpoints every %s to %s, object reuse off%n", EnvironmentInformation.getVersion(),
                new JobOptions().maxParallelism, TimeUtils.formatWithHighestUnit(checkpointInterval), checkpoints.toUri());
        System.out.printf(Locale.ROOT, "jvm:                 %s %s (%s), max heap %d MiB, GC %s%n", System.getProperty("java.vm.name"),
                System.getProperty("java.runtime.version"), System.getProperty("java.vendor"), rt.maxMemory() >> 20, gcs);
        System.out.printf(Locale.ROOT, "jvm args:            %s%n", ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(s -> !s.startsWith("--add-")).collect(Collectors.joining(" ")));
        System.out.printf(Locale.ROOT, "machine:             %d cores available, %s %s%n", rt.availableProcessors(),
                System.getProperty("os.name"), System.getProperty("os.arch"));
        System.out.println("measured:            source's first record -> sink's last score; CPU = process CPU time over that span;");
        System.out.println("                     keyed/source task CPU = that task thread's CPU time / wall time of the span");
        System.out.println("                     (engine: the stepping thread's); net runtime = Flink's, start-up and final checkpoint included");
    }

    private Run runOnce(int round, Variant v) throws Exception {
        if (v == Variant.ENGINE) {
            return runEngine(round);
        }
        long total = v == Variant.FLOOR ? floorEvents : events;
        JobOptions o = new JobOptions();
        o.model = modelDir;
        o.parallelism = 1;
        o.stateBackend = v.backend();
        o.checkpointInterval = checkpointInterval;
        o.checkpointDir = checkpoints.toUri().toString();
        o.deadLetter = null; // none expected; a reject would print on stderr and fail the count check
        if (v == Variant.BATCHED) {
            o.microBatch = microBatch;
            o.microBatchWait = microBatchWait;
        }
        Configuration conf = ScoringJob.configuration(o);
        conf.setString("metrics.reporter.latency.factory.class", LatencyReporter.Factory.class.getName());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);

        BenchEvents generator = new BenchEvents(seed, (int) events, keys, model.config().input().vocabSize(), total);
        DataGeneratorSource<RawRecord> source = rate > 0
                ? new DataGeneratorSource<>(generator, total, RateLimiterStrategy.perSecond(rate),
                        TypeInformation.of(RawRecord.class))
                : new DataGeneratorSource<>(generator, total, TypeInformation.of(RawRecord.class));
        DataStream<RawRecord> raw = env.fromSource(source, WatermarkStrategy.noWatermarks(), "bench events")
                .uid(ScoringJob.SOURCE_UID);
        DataStream<Event> parsed = ScoringJob.parse(raw, o, model);
        DataStream<Score> scores;
        if (v == Variant.FLOOR) {
            scores = parsed.keyBy(new ScoringJob.EventKey())
                    .transform("pass-through", TypeInformation.of(Score.class),
                            new PassThroughOperator(model.config().name(), model.outputSize(), model.emitsProbabilities()))
                    .uid("lseq-pass-through");
        } else {
            scores = ScoringJob.score(parsed, o, modelSource);
        }
        scores.sinkTo(new CountingSink()).uid("bench-sink").name("discard");

        System.gc();
        RunProbe.reset(total);
        LatencyReporter.reset();
        JobExecutionResult result = env.execute("lseq stream bench " + v.id + " round " + round);
        if (RunProbe.count != total || RunProbe.endNanos == 0 || RunProbe.startNanos == 0) {
            throw new IllegalStateException(v.id + ": the sink saw " + RunProbe.count + " scores of " + total
                    + " (a probe missed: are the tasks in this JVM?)");
        }
        double wall = (RunProbe.endNanos - RunProbe.startNanos) / 1e9;
        return new Run(round, v, total, wall, (RunProbe.endProcessCpu - RunProbe.startProcessCpu) / 1e9,
                (RunProbe.sinkThreadCpuEnd - RunProbe.sinkThreadCpuStart) / 1e9 / wall,
                (RunProbe.sourceThreadCpuEnd - RunProbe.sourceThreadCpuStart) / 1e9 / wall,
                result.getNetRuntime() / 1000.0, RunProbe.count, RunProbe.checksum, LatencyReporter.p50,
                LatencyReporter.p99);
    }

    /** The same events through {@code Scorer.stepToken} in this thread, one state per key, as the operator does. */
    private Run runEngine(int round) {
        int vocab = model.config().input().vocabSize();
        KeyState[] states = new KeyState[keys];
        Scorer scorer = model.newScorer();
        float[] out = new float[model.outputSize()];
        double sum = 0;
        System.gc();
        long t0 = System.nanoTime();
        long cpu0 = RunProbe.processCpu();
        long thread0 = RunProbe.threadCpu();
        for (int i = 0; i < events; i++) {
            int k = BenchEvents.key(seed, i, keys);
            KeyState st = states[k];
            if (st == null) {
                st = states[k] = model.newState();
            }
            model.nextSeq(st);
            scorer.stepToken(st, BenchEvents.token(seed, i, vocab), out);
            sum += out[0];
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double cpu = (RunProbe.processCpu() - cpu0) / 1e9;
        double thread = (RunProbe.threadCpu() - thread0) / 1e9;
        return new Run(round, Variant.ENGINE, events, wall, cpu, thread / wall, 0, wall, events, sum, Double.NaN,
                Double.NaN);
    }

    private static String row(Run r) {
        boolean engine = r.variant() == Variant.ENGINE;
        return String.format(Locale.ROOT, "| %s | %s | %,d | %.2f | %,.0f | %.2f | %,.0f | %.0f%% | %s | %s | %s | %.6g |",
                r.round() < 1 ? "warm-up" : Integer.toString(r.round()), r.variant().id, r.events(), r.seconds(),
                r.eventsPerSecond(), r.cpuSeconds(), r.eventsPerCpuSecond(), 100 * r.keyedThreadCpu(),
                engine ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * r.sourceThreadCpu()),
                engine ? "-" : String.format(Locale.ROOT, "%.2f", r.netRuntime()), latency(r.p50(), r.p99()), r.checksum());
    }

    private static String latency(double p50, double p99) {
        return Double.isNaN(p50) ? "-" : String.format(Locale.ROOT, "%.1f / %.1f", p50 / 1e3, p99 / 1e3);
    }

    private void summary(List<Run> runs) {
        System.out.println();
        System.out.printf(Locale.ROOT, "medians of %d rounds:%n%n", rounds);
        System.out.println("| variant | events/s | µs/event | events/CPU-s | CPU µs/event | keyed task CPU | source task CPU | latency p50 / p99 µs |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Variant v : variants) {
            List<Run> rs = runs.stream().filter(r -> r.variant() == v).toList();
            double eps = median(rs.stream().mapToDouble(Run::eventsPerSecond));
            double epc = median(rs.stream().mapToDouble(Run::eventsPerCpuSecond));
            System.out.printf(Locale.ROOT, "| %s (%s) | %,.0f | %.2f | %,.0f | %.2f | %.0f%% | %s | %s |%n", v.id, v.what, eps,
                    1e6 / eps, epc, 1e6 / epc, 100 * median(rs.stream().mapToDouble(Run::keyedThreadCpu)),
                    v == Variant.ENGINE ? "-" : String.format(Locale.ROOT, "%.0f%%",
                            100 * median(rs.stream().mapToDouble(Run::sourceThreadCpu))),
                    latency(median(rs.stream().mapToDouble(Run::p50)), median(rs.stream().mapToDouble(Run::p99))));
        }
        boolean scoring = variants.contains(Variant.HASHMAP) || variants.contains(Variant.ROCKSDB)
                || variants.contains(Variant.BATCHED);
        if (scoring && variants.contains(Variant.FLOOR)) {
            System.out.println();
            System.out.println("ratios to the floor, per round (events/s; events/CPU-s), then the median:");
            System.out.println();
            for (Variant v : variants) {
                if (v == Variant.FLOOR || v == Variant.ENGINE) {
                    continue;
                }
                List<Double> perRound = new ArrayList<>();
                List<Double> perRoundCpu = new ArrayList<>();
                for (int r = 1; r <= rounds; r++) {
                    Run a = find(runs, r, v);
                    Run f = find(runs, r, Variant.FLOOR);
                    perRound.add(a.eventsPerSecond() / f.eventsPerSecond());
                    perRoundCpu.add(a.eventsPerCpuSecond() / f.eventsPerCpuSecond());
                }
                System.out.printf(Locale.ROOT, "  %-8s / floor: events/s %s -> median %.2f%%; events/CPU-s %s -> median %.2f%%%n", v.id,
                        percents(perRound), 100 * median(perRound.stream().mapToDouble(d -> d)), percents(perRoundCpu),
                        100 * median(perRoundCpu.stream().mapToDouble(d -> d)));
            }
        }
        if (scoring && variants.contains(Variant.ENGINE)) {
            System.out.println();
            System.out.println("the scoring job against the model step alone (events/s), per round, then the median:");
            System.out.println();
            for (Variant v : List.of(Variant.HASHMAP, Variant.ROCKSDB, Variant.BATCHED)) {
                if (!variants.contains(v)) {
                    continue;
                }
                List<Double> perRound = new ArrayList<>();
                List<Double> extra = new ArrayList<>();
                for (int r = 1; r <= rounds; r++) {
                    Run a = find(runs, r, v);
                    Run e = find(runs, r, Variant.ENGINE);
                    perRound.add(a.eventsPerSecond() / e.eventsPerSecond());
                    extra.add(1e6 / a.eventsPerSecond() - 1e6 / e.eventsPerSecond());
                }
                System.out.printf(Locale.ROOT, "  %-8s / engine: %s -> median %.1f%%; the job's extra time per event: median %.2f µs%n", v.id,
                        percents(perRound), 100 * median(perRound.stream().mapToDouble(d -> d)),
                        median(extra.stream().mapToDouble(d -> d)));
            }
        }
        List<Variant> scored = variants.stream().filter(v -> v != Variant.FLOOR).toList();
        if (scored.size() > 1) {
            boolean same = true;
            for (int r = 1; r <= rounds; r++) {
                double c = find(runs, r, scored.get(0)).checksum();
                for (Variant v : scored) {
                    same &= find(runs, r, v).checksum() == c;
                }
            }
            System.out.println();
            System.out.println("scores of " + scored.stream().map(v -> v.id).collect(Collectors.joining(", ")) + ": "
                    + (same ? "identical checksums in every round" : "CHECKSUMS DIFFER"));
        }
    }

    private static Run find(List<Run> runs, int round, Variant v) {
        return runs.stream().filter(r -> r.round() == round && r.variant() == v).findFirst().orElseThrow();
    }

    private static String percents(List<Double> xs) {
        return xs.stream().map(x -> String.format(Locale.ROOT, "%.2f%%", 100 * x)).collect(Collectors.joining(" ", "[", "]"));
    }

    private static double median(java.util.stream.DoubleStream xs) {
        return median(xs.toArray());
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
