package io.lseq.bench.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lseq.bench.BenchCommand;
import io.lseq.bench.StreamBench;
import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.model.Sequence;
import io.lseq.flink.state.KeyStateSerializer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The head-to-head report: the same events through each model, measured in one run, written as
 * {@code docs/COMPARISON.md} with PNG charts. Per model: state bytes per key against the window
 * size, streaming events/s in the Flink job (one core), backfill tokens/s on CPU, and quality on
 * the long-range task (mean surprisal of normal probes, detection AUC) against the distance of
 * the signal. Measurements of different models are interleaved round by round, so a noisy
 * neighbour hurts them alike. Run with {@code bin/lseq-bench compare} (see docs/COMPARISON.md).
 */
public final class Compare extends BenchCommand {
    private static final String USAGE = String.join("\n",
            "usage: bin/lseq-bench compare --events DIR [--models DIR,DIR...] [--out FILE] [--charts DIR]",
            "                              [--stream-events N] [--keys K] [--rounds R] [--backfill-keys K]",
            "                              [--backfill-length L] [--threads T] [--windows W,W...] [--skip LIST]",
            "                              [--switch-events DIR] [--switch-models DIR,DIR...] [--quality-windows W,W...]",
            "                              [--wide-max-distance D] [--long-key L]",
            "",
            "Runs the same events through each model and writes the comparison report with PNG charts.",
            "",
            "  --events DIR           long-range task events: files distance-D.jsonl (probe ids normal-*/anomaly-*),",
            "                         from tools/train/longrange.py events (tools/compare.sh writes them)",
            "  --models LIST          model directories (default: examples/models/longrange-*)",
            "  --out FILE             the report (default docs/COMPARISON.md)",
            "  --charts DIR           PNG charts (default docs/comparison)",
            "  --stream-events N      events per streaming run (default 200000)",
            "  --keys K               keys of the streaming runs (default 1000)",
            "  --rounds R             measured rounds of the speed figures, after one warm-up (default 3)",
            "  --backfill-keys K      keys of a backfill batch (default 64)",
            "  --backfill-length L    events per key of a backfill batch (default 2048)",
            "  --threads T            backfill threads (default: every core)",
            "  --windows LIST         window sizes for the state-size figure (default 16,64,256,1024,4096)",
            "  --skip LIST            leave out sections: state, stream, backfill, quality, windows, long, switch",
            "  --switch-events DIR    the switch task's events (distance-D.jsonl: D from the last mode switch),",
            "                         from tools/train/longrange.py events --task switch",
            "  --switch-models LIST   models of the switch task (default: examples/models/longrange-switch-*)",
            "  --quality-windows LIST windows at which attention and GAU models without sinks are also scored",
            "                         (a config copy with every window set to W; default 64,256,1024,4096)",
            "  --wide-max-distance D  windows other than the trained one are scored on distances <= D only (default 4096)",
            "  --long-key L           events of the one-long-key backfill (default 65536)");
    private static final Pattern DISTANCE = Pattern.compile("distance-(\\d+)\\.jsonl");

    private List<Path> models = new ArrayList<>();
    private Path eventsDir;
    private Path out = Path.of("docs/COMPARISON.md");
    private Path charts = Path.of("docs/comparison");
    private long streamEvents = 200_000;
    private int keys = 1_000;
    private int rounds = 3;
    private int backfillKeys = 64;
    private int backfillLength = 2048;
    private int threads = Runtime.getRuntime().availableProcessors();
    private int[] windows = {16, 64, 256, 1024, 4096};
    private List<String> skip = List.of();
    private Path switchEvents;
    private List<Path> switchModels = new ArrayList<>();
    private int[] qualityWindows = {64, 256, 1024, 4096};
    private int wideMaxDistance = 4096;
    private int longKey = 65_536;
    private final List<String> argv = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        new Compare().main("lseq-bench compare", args);
    }

    @Override
    protected String usage() {
        return USAGE;
    }

    @Override
    protected void option(String a, String v) {
        argv.add(a);
        argv.add(v);
        switch (a) {
            case "--events" -> eventsDir = Path.of(v);
            case "--models" -> models = Arrays.stream(v.split(",")).map(String::trim).map(Path::of).toList();
            case "--out" -> out = Path.of(v);
            case "--charts" -> charts = Path.of(v);
            case "--stream-events" -> streamEvents = positive(a, v);
            case "--keys" -> keys = (int) positive(a, v);
            case "--rounds" -> rounds = (int) positive(a, v);
            case "--backfill-keys" -> backfillKeys = (int) positive(a, v);
            case "--backfill-length" -> backfillLength = (int) positive(a, v);
            case "--threads" -> threads = (int) positive(a, v);
            case "--windows" -> windows = Arrays.stream(v.split(",")).mapToInt(w -> (int) positive(a, w.trim())).toArray();
            case "--skip" -> skip = Arrays.stream(v.split(",")).map(String::trim).toList();
            case "--switch-events" -> switchEvents = Path.of(v);
            case "--switch-models" -> switchModels = Arrays.stream(v.split(",")).map(String::trim).map(Path::of).toList();
            case "--quality-windows" -> qualityWindows = Arrays.stream(v.split(",")).mapToInt(w -> (int) positive(a, w.trim()))
                    .toArray();
            case "--wide-max-distance" -> wideMaxDistance = (int) positive(a, v);
            case "--long-key" -> longKey = (int) positive(a, v);
            default -> throw new IllegalArgumentException("unknown option '" + a + "'");
        }
    }

    @Override
    protected void validate() {
        if (models.isEmpty()) {
            try (Stream<Path> s = Files.list(Path.of("examples/models"))) {
                models = s.filter(p -> p.getFileName().toString().startsWith("longrange-")
                        && !p.getFileName().toString().startsWith("longrange-switch-")).sorted().toList();
            } catch (IOException e) {
                throw new IllegalArgumentException("no --models, and examples/models cannot be listed: " + e);
            }
            if (models.isEmpty()) {
                throw new IllegalArgumentException("no examples/models/longrange-* here; give --models");
            }
        }
        if (!skip.contains("quality") && (eventsDir == null || !Files.isDirectory(eventsDir))) {
            throw new IllegalArgumentException("--events DIR is required (a directory of distance-D.jsonl files)");
        }
        if (switchEvents != null && !Files.isDirectory(switchEvents)) {
            throw new IllegalArgumentException("--switch-events " + switchEvents + ": not a directory");
        }
        if (switchEvents != null && switchModels.isEmpty()) {
            try (Stream<Path> s = Files.list(Path.of("examples/models"))) {
                switchModels = s.filter(p -> p.getFileName().toString().startsWith("longrange-switch-")).sorted().toList();
            } catch (IOException e) {
                throw new IllegalArgumentException("no --switch-models, and examples/models cannot be listed: " + e);
            }
        }
    }

    /** A model under comparison; {@code window} is the window it runs with (0: no window, or as trained). */
    private record Entry(String name, Path dir, Model model, String config, byte[] weights, int window) {}

    /** Numbers the closing "which to choose" section is drawn from, filled by the sections as they run. */
    private final Summary summary = new Summary();

    @Override
    public void run() throws Exception {
        List<Entry> entries = new ArrayList<>();
        for (Path dir : models) {
            String config = Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8);
            byte[] weights = Files.readAllBytes(dir.resolve("model.safetensors"));
            entries.add(new Entry(dir.getFileName().toString(), dir, Model.load(dir), config, weights, 0));
        }
        Report r = new Report(out, charts);
        r.header(settings(entries));
        r.models(entries.stream().map(e -> new String[] {e.name(), describe(e.model()),
            String.format(Locale.ROOT, "%,d", e.model().parameterCount())}).toList());
        if (!skip.contains("state")) {
            stateBytes(entries, r);
        }
        if (!skip.contains("stream")) {
            streaming(entries, r);
        }
        if (!skip.contains("backfill")) {
            backfill(entries, r);
        }
        if (!skip.contains("long")) {
            longKey(entries, r);
        }
        TreeMap<String, Quality[]> q1 = new TreeMap<>();
        if (!skip.contains("quality")) {
            q1 = quality(entries, r);
        }
        if (!skip.contains("windows") && !skip.contains("quality")) {
            windows(entries, r, q1);
        }
        if (switchEvents != null && !skip.contains("switch") && !switchModels.isEmpty()) {
            List<Entry> sw = new ArrayList<>();
            for (Path dir : switchModels) {
                String config = Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8);
                byte[] weights = Files.readAllBytes(dir.resolve("model.safetensors"));
                sw.add(new Entry(dir.getFileName().toString(), dir, Model.load(dir), config, weights, 0));
            }
            switchQuality(sw, r);
        }
        r.choose(summary);
        r.write();
        System.out.println("lseq-bench compare: wrote " + out + " and charts in " + charts);
    }

    private String settings(List<Entry> entries) {
        Runtime rt = Runtime.getRuntime();
        return String.join("\n",
                "date:     " + ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                "command:  bin/lseq-bench compare " + String.join(" ", argv),
                "models:   " + entries.stream().map(e -> e.dir().toString()).collect(Collectors.joining(", ")),
                String.format(Locale.ROOT, "stream:   %,d events over %,d keys per run, MiniCluster parallelism 1, hashmap",
                        streamEvents, keys),
                String.format(Locale.ROOT, "backfill: %d keys x %,d events, %d threads; step path in one thread beside it",
                        backfillKeys, backfillLength, threads),
                String.format(Locale.ROOT, "rounds:   %d measured after 1 warm-up, models interleaved; medians", rounds),
                "jvm:      " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                        + ", max heap " + (rt.maxMemory() >> 20) + " MiB",
                "machine:  " + rt.availableProcessors() + " cores, " + System.getProperty("os.name") + " "
                        + System.getProperty("os.arch"),
                "GPU:      not measured here (GPU backfill of LRU models: tools/gpu/device-check.sh, docs/BENCHMARKS.md)");
    }

    private static String describe(Model m) {
        return m.config().blocks().stream().map(b -> {
            ModelConfig.Mixer x = b.mixer();
            if (x instanceof ModelConfig.Attention a) {
                return "attention W=" + a.window() + (a.sinks() > 0 ? " S=" + a.sinks() : "");
            } else if (x instanceof ModelConfig.Gau g) {
                return "gau W=" + g.window() + (g.sinks() > 0 ? " S=" + g.sinks() : "");
            } else if (x instanceof ModelConfig.Lru l) {
                return "lru N=" + l.dState();
            } else if (x instanceof ModelConfig.Gru g) {
                return "gru N=" + g.dState();
            }
            return x.type();
        }).collect(Collectors.joining(" + ")) + ", H=" + m.config().dModel();
    }

    // ---- state bytes -------------------------------------------------------------------------

    private void stateBytes(List<Entry> entries, Report r) throws IOException {
        System.out.println("state bytes per key ...");
        List<Charts.Series> series = new ArrayList<>();
        List<String[]> rows = new ArrayList<>();
        double[] xs = Arrays.stream(windows).asDoubleStream().toArray();
        for (Entry e : entries) {
            double[] serialized = new double[windows.length];
            double[] heap = new double[windows.length];
            for (int i = 0; i < windows.length; i++) {
                Model m = Model.load(withWindow(e.config(), windows[i]), e.weights(), e.dir().toString());
                serialized[i] = serializedBytes(m);
                heap[i] = heapBytesPerKey(m);
            }
            series.add(new Charts.Series(e.name(), xs, serialized));
            String[] row = new String[windows.length + 2];
            row[0] = e.name();
            row[1] = String.format(Locale.ROOT, "%,d / %,.0f", serializedBytes(e.model()), heapBytesPerKey(e.model()));
            for (int i = 0; i < windows.length; i++) {
                row[i + 2] = String.format(Locale.ROOT, "%,.0f / %,.0f", serialized[i], heap[i]);
            }
            rows.add(row);
        }
        Charts.lines(charts.resolve("state-bytes.png"), "State bytes per key against the window size",
                "window W (attention, GAU; recurrent models do not have one)", "bytes per key (serialized)", true, true,
                series);
        for (Entry e : entries) {
            summary.stateBytes.put(e.name(), serializedBytes(e.model()));
        }
        r.stateBytes(windows, rows);
    }

    /** Config JSON with every attention and GAU window set to {@code w}. */
    static String withWindow(String config, int w) throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode root = json.readTree(config);
        for (JsonNode b : root.get("blocks")) {
            JsonNode m = b.get("mixer");
            if (m.has("window")) {
                ((ObjectNode) m).put("window", w);
            }
        }
        return json.writeValueAsString(root);
    }

    /** Bytes of one key's state as the streaming job writes it into checkpoints. */
    static long serializedBytes(Model m) throws IOException {
        KeyStateSerializer ser = new KeyStateSerializer(m.stateSize(), m.stateSignature());
        DataOutputSerializer buf = new DataOutputSerializer(64);
        ser.serialize(m.newState(), buf);
        return buf.length();
    }

    /**
     * Java heap per key, measured: live heap after allocating up to 20,000 fresh states (fewer
     * when they are large: at most ~256 MiB in all), minus before.
     */
    static double heapBytesPerKey(Model m) {
        int n = (int) Math.max(50, Math.min(20_000, (256L << 20) / Math.max(1, m.stateBytes())));
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        long before = usedAfterGc(mem);
        KeyState[] states = new KeyState[n];
        for (int i = 0; i < n; i++) {
            states[i] = m.newState();
        }
        long after = usedAfterGc(mem);
        double perKey = (after - before) / (double) n;
        if (states[n - 1].position() < 0) {
            throw new AssertionError(); // keeps the array reachable until here
        }
        return perKey;
    }

    private static long usedAfterGc(MemoryMXBean mem) {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return mem.getHeapMemoryUsage().getUsed();
    }

    // ---- streaming ---------------------------------------------------------------------------

    private void streaming(List<Entry> entries, Report r) throws Exception {
        double[][] perRound = new double[entries.size()][rounds];
        for (int round = 0; round <= rounds; round++) {
            for (int i = 0; i < entries.size(); i++) {
                double eps = StreamBench.scoringJobEventsPerSecond(entries.get(i).dir(), streamEvents, keys, 42);
                System.out.printf(Locale.ROOT, "stream %s %s: %,.0f events/s%n", round == 0 ? "warm-up" : "round " + round,
                        entries.get(i).name(), eps);
                if (round > 0) {
                    perRound[i][round - 1] = eps;
                }
            }
        }
        List<String> labels = entries.stream().map(Entry::name).toList();
        double[] medians = Arrays.stream(perRound).mapToDouble(BenchCommand::median).toArray();
        Charts.bars(charts.resolve("streaming.png"), "Streaming job, events/s on one core (Flink MiniCluster, "
                + "parallelism 1)", "events/s (median of " + rounds + " rounds)", labels, medians, "%,.0f");
        for (int i = 0; i < labels.size(); i++) {
            summary.streaming.put(labels.get(i), medians[i]);
        }
        r.streaming(labels, perRound, medians);
    }

    // ---- backfill ----------------------------------------------------------------------------

    private void backfill(List<Entry> entries, Report r) {
        double[][] batch = new double[entries.size()][rounds];
        double[][] step = new double[entries.size()][rounds];
        for (int round = 0; round <= rounds; round++) {
            for (int i = 0; i < entries.size(); i++) {
                Model m = entries.get(i).model();
                int[][] tokens = tokens(m, 7);
                double b = backfillTokensPerSecond(m, tokens, threads);
                double s = stepTokensPerSecond(m, tokens);
                System.out.printf(Locale.ROOT, "backfill %s %s: batch %,.0f tokens/s, step %,.0f tokens/s%n",
                        round == 0 ? "warm-up" : "round " + round, entries.get(i).name(), b, s);
                if (round > 0) {
                    batch[i][round - 1] = b;
                    step[i][round - 1] = s;
                }
            }
        }
        List<String> labels = entries.stream().map(Entry::name).toList();
        double[] medians = Arrays.stream(batch).mapToDouble(BenchCommand::median).toArray();
        double[] stepMedians = Arrays.stream(step).mapToDouble(BenchCommand::median).toArray();
        try {
            Charts.bars(charts.resolve("backfill.png"), "Backfill on CPU, tokens/s (" + threads + " threads, "
                    + backfillKeys + " keys x " + backfillLength + ")", "tokens/s (median of " + rounds + " rounds)",
                    labels, medians, "%,.0f");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        r.backfill(labels, medians, stepMedians, threads);
    }

    private int[][] tokens(Model m, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int v = m.config().input().vocabSize();
        int[][] t = new int[backfillKeys][backfillLength];
        for (int[] row : t) {
            for (int j = 0; j < row.length; j++) {
                row[j] = rnd.nextInt(v);
            }
        }
        return t;
    }

    private static double backfillTokensPerSecond(Model m, int[][] tokens, int threads) {
        List<Sequence> batch = new ArrayList<>();
        for (int[] row : tokens) {
            batch.add(new Sequence(m.newState(), row, null, new float[row.length * m.outputSize()]));
        }
        try (BatchScorer scorer = new BatchScorer(m, threads)) {
            long t0 = System.nanoTime();
            scorer.score(batch);
            return tokens.length * (double) tokens[0].length / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static double stepTokensPerSecond(Model m, int[][] tokens) {
        Scorer scorer = m.newScorer();
        KeyState[] states = new KeyState[tokens.length];
        for (int k = 0; k < states.length; k++) {
            states[k] = m.newState();
        }
        float[] out = new float[m.outputSize()];
        long t0 = System.nanoTime();
        for (int t = 0; t < tokens[0].length; t++) {
            for (int k = 0; k < tokens.length; k++) {
                scorer.stepToken(states[k], tokens[k][t], out);
            }
        }
        return tokens.length * (double) tokens[0].length / ((System.nanoTime() - t0) / 1e9);
    }

    // ---- quality -----------------------------------------------------------------------------

    private static TreeMap<Integer, Path> distanceFiles(Path dir) throws IOException {
        TreeMap<Integer, Path> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Matcher m = DISTANCE.matcher(p.getFileName().toString());
                if (m.matches()) {
                    files.put(Integer.parseInt(m.group(1)), p);
                }
            }
        }
        if (files.isEmpty()) {
            throw new IOException(dir + ": no distance-D.jsonl files");
        }
        return files;
    }

    /** Quality per distance file; files beyond {@code maxDistance} are not run (null). */
    private static Quality[] measureAll(String name, Model model, TreeMap<Integer, Path> files, int maxDistance)
            throws IOException {
        Quality[] q = new Quality[files.size()];
        int i = 0;
        for (Map.Entry<Integer, Path> f : files.entrySet()) {
            if (f.getKey() <= maxDistance) {
                q[i] = Quality.measure(model, f.getValue());
                System.out.printf(Locale.ROOT, "quality %s %s: mean surprisal %.4f, AUC %.4f (%d normal, %d anomalous probes), "
                        + "%,.0f events/s%n", name, f.getValue().getFileName(), q[i].meanSurprisal(), q[i].auc(),
                        q[i].normal(), q[i].anomalies(), q[i].eventsPerSecond());
            }
            i++;
        }
        return q;
    }

    private TreeMap<String, Quality[]> quality(List<Entry> entries, Report r) throws IOException {
        TreeMap<Integer, Path> files = distanceFiles(eventsDir);
        TreeMap<String, Quality[]> byName = new TreeMap<>();
        List<Quality[]> all = new ArrayList<>();
        for (Entry e : entries) {
            Quality[] q = measureAll(e.name(), e.model(), files, Integer.MAX_VALUE);
            all.add(q);
            byName.put(e.name(), q);
            summary.quality1.put(e.name(), Summary.minAuc(q));
        }
        summary.distances1 = files.keySet().stream().mapToInt(Integer::intValue).toArray();
        qualityCharts(entries.stream().map(Entry::name).toList(), files, all, "");
        r.quality("Quality on the long-range task", Report.TASK1, "", entries.stream().map(Entry::name).toList(), files,
                all);
        return byName;
    }

    private void switchQuality(List<Entry> entries, Report r) throws IOException {
        TreeMap<Integer, Path> files = distanceFiles(switchEvents);
        List<Quality[]> all = new ArrayList<>();
        for (Entry e : entries) {
            Quality[] q = measureAll(e.name(), e.model(), files, Integer.MAX_VALUE);
            all.add(q);
            summary.quality2.put(e.name(), Summary.minAuc(q));
        }
        summary.distances2 = files.keySet().stream().mapToInt(Integer::intValue).toArray();
        qualityCharts(entries.stream().map(Entry::name).toList(), files, all, "-switch");
        r.quality("Quality on the switch task", Report.TASK2, "-switch", entries.stream().map(Entry::name).toList(),
                files, all);
    }

    private void qualityCharts(List<String> names, TreeMap<Integer, Path> files, List<Quality[]> all, String suffix)
            throws IOException {
        double[] xs = files.keySet().stream().mapToDouble(Integer::doubleValue).toArray();
        List<Charts.Series> surprisal = new ArrayList<>();
        List<Charts.Series> auc = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            Quality[] q = all.get(i);
            surprisal.add(new Charts.Series(names.get(i), xs, Arrays.stream(q)
                    .mapToDouble(x -> x == null ? Double.NaN : x.meanSurprisal()).toArray()));
            auc.add(new Charts.Series(names.get(i), xs, Arrays.stream(q)
                    .mapToDouble(x -> x == null ? Double.NaN : x.auc()).toArray()));
        }
        String task = suffix.isEmpty() ? "" : " (switch task)";
        Charts.lines(charts.resolve("surprisal" + suffix + ".png"), "Mean surprisal of probe events against the signal's "
                + "distance" + task, "distance from the signal (events)", "nats (lower is better)", true, false, surprisal);
        Charts.lines(charts.resolve("auc" + suffix + ".png"), "Anomaly detection AUC against the signal's distance" + task,
                "distance from the signal (events)", "AUC (0.5 = chance)", true, false, auc);
    }

    // ---- attention windows at inference --------------------------------------------------------

    private static boolean windowedWithoutSinks(Model m) {
        boolean any = false;
        for (var b : m.config().blocks()) {
            ModelConfig.Mixer x = b.mixer();
            if (x instanceof ModelConfig.Attention a) {
                any = true;
                if (a.sinks() > 0) {
                    return false;
                }
            } else if (x instanceof ModelConfig.Gau g) {
                any = true;
                if (g.sinks() > 0) {
                    return false;
                }
            }
        }
        return any;
    }

    private static int trainedWindow(Model m) {
        for (var b : m.config().blocks()) {
            if (b.mixer() instanceof ModelConfig.Attention a) {
                return a.window();
            } else if (b.mixer() instanceof ModelConfig.Gau g) {
                return g.window();
            }
        }
        return 0;
    }

    /**
     * Every model in one table: the attention and GAU models without sinks at each of the quality windows (a config
     * copy with every window set to W, the trained weights), the others as trained. Per row: state bytes, the step
     * path's steady-state events/s and the quality on the long-range task.
     */
    private void windows(List<Entry> entries, Report r, TreeMap<String, Quality[]> base) throws IOException {
        TreeMap<Integer, Path> files = distanceFiles(eventsDir);
        List<String[]> rows = new ArrayList<>();
        List<Quality[]> qs = new ArrayList<>();
        List<Charts.Series> points = new ArrayList<>();
        int common = files.keySet().stream().filter(d -> d <= wideMaxDistance).mapToInt(Integer::intValue).max().orElse(0);
        for (Entry e : entries) {
            boolean vary = windowedWithoutSinks(e.model());
            int trained = trainedWindow(e.model());
            int[] ws = vary ? qualityWindows : new int[] {trained};
            double[] xs = new double[ws.length];
            double[] ys = new double[ws.length];
            for (int i = 0; i < ws.length; i++) {
                int w = ws[i];
                Model m = (w == trained) ? e.model() : Model.load(withWindow(e.config(), w), e.weights(), e.dir().toString());
                Quality[] q = (w == trained) ? base.get(e.name())
                        : measureAll(e.name() + " W=" + w, m, files, wideMaxDistance);
                long ser = serializedBytes(m);
                double heap = heapBytesPerKey(m);
                int length = Math.max(2048, 2 * w);
                double eps = steadyStepEventsPerSecond(m, 4, length);
                System.out.printf(Locale.ROOT, "window %s W=%d: %,d bytes, steady step %,.0f events/s%n", e.name(), w, ser,
                        eps);
                String label = e.name() + (w == 0 ? "" : " W=" + w + (w == trained ? " (trained)" : ""));
                rows.add(new String[] {label, String.format(Locale.ROOT, "%,d / %,.0f", ser, heap),
                    String.format(Locale.ROOT, "%,.0f", eps)});
                qs.add(q);
                xs[i] = ser;
                int[] ds = files.keySet().stream().mapToInt(Integer::intValue).toArray();
                ys[i] = Summary.minAuc(q, ds, common);
                summary.variants.add(new Summary.Variant(e.name(), w, ser, eps, q, ds));
            }
            points.add(new Charts.Series(e.name(), xs, ys));
        }
        Charts.lines(charts.resolve("quality-vs-state.png"), "Worst AUC over distances 64.." + common
                + " against state bytes per key", "bytes per key (serialized; attention/GAU points: W = "
                + Arrays.stream(qualityWindows).mapToObj(Integer::toString).collect(Collectors.joining(", ")) + ")",
                "lowest AUC over the distances", true, false, points);
        r.windows(rows, files, qs, wideMaxDistance, common);
    }

    /**
     * The step path's events/s once every key's window is full: {@code keys} keys of {@code length} random tokens,
     * stepped round-robin; the first half is the warm-up, the second half is timed.
     */
    static double steadyStepEventsPerSecond(Model m, int keys, int length) {
        SplittableRandom rnd = new SplittableRandom(11);
        int v = m.config().input().vocabSize();
        Scorer scorer = m.newScorer();
        KeyState[] states = new KeyState[keys];
        for (int k = 0; k < keys; k++) {
            states[k] = m.newState();
        }
        float[] out = new float[m.outputSize()];
        long t0 = 0;
        for (int t = 0; t < length; t++) {
            if (t == length / 2) {
                t0 = System.nanoTime();
            }
            for (int k = 0; k < keys; k++) {
                scorer.stepToken(states[k], rnd.nextInt(v), out);
            }
        }
        return keys * (double) (length - length / 2) / ((System.nanoTime() - t0) / 1e9);
    }

    // ---- one long key ------------------------------------------------------------------------

    private void longKey(List<Entry> entries, Report r) {
        double[][] batch = new double[entries.size()][rounds];
        double[][] step = new double[entries.size()][rounds];
        for (int round = 0; round <= rounds; round++) {
            for (int i = 0; i < entries.size(); i++) {
                Model m = entries.get(i).model();
                SplittableRandom rnd = new SplittableRandom(13);
                int v = m.config().input().vocabSize();
                int[][] tokens = new int[1][longKey];
                for (int j = 0; j < longKey; j++) {
                    tokens[0][j] = rnd.nextInt(v);
                }
                double b = backfillTokensPerSecond(m, tokens, threads);
                double s = stepTokensPerSecond(m, tokens);
                System.out.printf(Locale.ROOT, "long key %s %s: batch %,.0f tokens/s, step %,.0f tokens/s%n",
                        round == 0 ? "warm-up" : "round " + round, entries.get(i).name(), b, s);
                if (round > 0) {
                    batch[i][round - 1] = b;
                    step[i][round - 1] = s;
                }
            }
        }
        List<String> labels = entries.stream().map(Entry::name).toList();
        double[] medians = Arrays.stream(batch).mapToDouble(BenchCommand::median).toArray();
        double[] stepMedians = Arrays.stream(step).mapToDouble(BenchCommand::median).toArray();
        for (int i = 0; i < labels.size(); i++) {
            summary.longKey.put(labels.get(i), medians[i]);
        }
        r.longKey(labels, medians, stepMedians, longKey, threads);
    }
}
