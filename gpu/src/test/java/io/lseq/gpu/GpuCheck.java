package io.lseq.gpu;

import com.fasterxml.jackson.databind.JsonNode;
import io.lseq.core.format.ConfigParser;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.model.Sequence;
import io.lseq.core.testing.RandomWeights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The GPU batch path against references, as a program for the GPU machine (tools/gpu/device-check.sh)
 * and as the body of {@code GpuBatchScorerTest}. Every emitted number must meet MODEL_FORMAT.md's
 * {@code |a - b| <= 1e-4 + 1e-4 |b|}: against the float64 reference on the LRU goldens, and against
 * the CPU step path on random models that cover every input, norm, GELU, post, MLP and head, with
 * ragged keys (1 event to 100,000) cut into several GPU calls, and handed between GPU and CPU.
 *
 * <p>Usage: {@code GpuCheck GOLDEN_DIR}; exit status 1 when a check fails.
 */
public final class GpuCheck {

    /** Random LRU-only models: name and config. */
    static final Map<String, String> CONFIGS = new LinkedHashMap<>();

    static {
        CONFIGS.put("tokens-layer-glu-mlp-next", config(64, "{\"type\":\"tokens\",\"vocab_size\":300,\"bos_token\":1}",
                "layer", "erf", "[" + block(96, "glu", 128) + "," + block(96, "glu", 0) + "]",
                "{\"type\":\"next_token\",\"tie_embeddings\":false}"));
        CONFIGS.put("features-rms-tanh-none-regression", config(48, "{\"type\":\"features\",\"dim\":5}", "rms", "tanh",
                "[" + block(40, "none", 0) + "," + block(33, "glu", 64) + "]", "{\"type\":\"regression\",\"dim\":5}"));
        CONFIGS.put("tokens-tied-classes", config(32, "{\"type\":\"tokens\",\"vocab_size\":50}", "layer", "erf",
                "[" + block(70, "glu", 0) + "]", "{\"type\":\"classes\",\"num_classes\":7}"));
        CONFIGS.put("tokens-tied-next", config(32, "{\"type\":\"tokens\",\"vocab_size\":40}", "rms", "erf",
                "[" + block(32, "glu", 0) + "]", "{\"type\":\"next_token\",\"tie_embeddings\":true}"));
        // Blocks of very different widths: each device buffer is sized by its own widest block.
        CONFIGS.put("tokens-wide-narrow-classes", config(64, "{\"type\":\"tokens\",\"vocab_size\":90}", "layer", "erf",
                "[" + block(256, "none", 0) + "," + block(8, "glu", 1024) + "]", "{\"type\":\"classes\",\"num_classes\":3}"));
    }

    static String config(int h, String input, String norm, String gelu, String blocks, String head) {
        return "{\"format\":\"lseq-model\",\"version\":1,\"name\":\"gpu-check\",\"d_model\":" + h + ",\"input\":" + input
                + ",\"norm\":\"" + norm + "\",\"gelu\":\"" + gelu + "\",\"blocks\":" + blocks + ",\"head\":" + head + "}";
    }

    static String block(int n, String post, int mlp) {
        return "{\"mixer\":{\"type\":\"lru\",\"d_state\":" + n + "},\"post\":\"" + post + "\""
                + (mlp > 0 ? ",\"mlp\":{\"hidden\":" + mlp + "}" : "") + "}";
    }

    /** Lengths of the keys in a random-model check: ragged around the scan's tiles, and one long key. */
    static final int[] LENGTHS = {1, 7, 63, 64, 65, 300, 2049, 100_000};
    /** The same without the long key, for the host emulator (emulated_libcuda.cpp), which is slow. */
    static final int[] QUICK_LENGTHS = {1, 7, 63, 64, 65, 300, 2049};

    private final CudaDevice dev;
    private final int[] lengths;
    private final boolean quick;
    private int failures;

    /** @param quick the emulator's sizes: no 100,000-event key, one golden window */
    GpuCheck(CudaDevice dev, boolean quick) {
        this.dev = dev;
        this.quick = quick;
        this.lengths = quick ? QUICK_LENGTHS : LENGTHS;
    }

    int failures() {
        return failures;
    }

    private void report(String name, double worst, String where) {
        boolean ok = worst <= 1.0;
        if (!ok) {
            failures++;
        }
        System.out.printf("%s %-48s worst error %.4f of tolerance%s%n", ok ? "ok  " : "FAIL", name, worst,
                ok ? "" : " at " + where);
    }

    private static double ratio(float got, double want) {
        return Math.abs(got - want) / (1e-4 + 1e-4 * Math.abs(want));
    }

    /**
     * A random model's GPU batches against its CPU step path, in passes over the device of at
     * most {@code passRows} rows.
     */
    void randomModel(String name, long seed, long passRows) {
        String json = CONFIGS.get(name);
        RandomWeights rw = new RandomWeights(seed);
        Model model = Model.of(ConfigParser.parse(json), rw);
        SplittableRandom rnd = new SplittableRandom(seed);
        boolean tokens = model.config().input().tokens();
        int vocab = model.config().input().vocabSize();
        int dim = model.config().input().dim();
        int width = model.outputSize();
        if (passRows != Long.MAX_VALUE) {
            name += " (passes of " + passRows + " rows)";
        }
        try (GpuBatchScorer gpu = new GpuBatchScorer(dev, model, passRows)) {
            int keys = lengths.length;
            int[][] tok = new int[keys][];
            float[][][] feat = new float[keys][][];
            for (int k = 0; k < keys; k++) {
                int len = lengths[k];
                if (tokens) {
                    tok[k] = rnd.ints(len, 0, vocab).toArray();
                } else {
                    feat[k] = new float[len][dim];
                    for (float[] row : feat[k]) {
                        for (int j = 0; j < dim; j++) {
                            row[j] = (float) (rnd.nextDouble() * 2 - 1);
                        }
                    }
                }
            }
            // CPU, event by event.
            Scorer scorer = model.newScorer();
            float[][] want = new float[keys][];
            KeyState[] cpuStates = new KeyState[keys];
            float[] o = new float[width];
            for (int k = 0; k < keys; k++) {
                cpuStates[k] = model.newState();
                want[k] = new float[lengths[k] * width];
                for (int t = 0; t < lengths[k]; t++) {
                    if (tokens) {
                        scorer.stepToken(cpuStates[k], tok[k][t], o);
                    } else {
                        scorer.stepFeatures(cpuStates[k], feat[k][t], o);
                    }
                    System.arraycopy(o, 0, want[k], t * width, width);
                }
            }
            // GPU: every key's history in three calls of uneven cuts.
            KeyState[] gpuStates = new KeyState[keys];
            float[][] got = new float[keys][];
            for (int k = 0; k < keys; k++) {
                gpuStates[k] = model.newState();
                got[k] = new float[lengths[k] * width];
            }
            double[] cuts = {0, 0.37, 0.81, 1};
            for (int c = 0; c < 3; c++) {
                List<Sequence> batch = new ArrayList<>();
                int[] from = new int[keys];
                for (int k = 0; k < keys; k++) {
                    from[k] = (int) (lengths[k] * cuts[c]);
                    int to = (int) (lengths[k] * cuts[c + 1]);
                    float[] out = new float[(to - from[k]) * width];
                    batch.add(new Sequence(gpuStates[k],
                            tokens ? java.util.Arrays.copyOfRange(tok[k], from[k], to) : null,
                            tokens ? null : java.util.Arrays.copyOfRange(feat[k], from[k], to), out));
                }
                gpu.score(batch);
                for (int k = 0; k < keys; k++) {
                    float[] out = batch.get(k).out();
                    System.arraycopy(out, 0, got[k], from[k] * width, out.length);
                }
            }
            double worst = 0;
            String where = "";
            for (int k = 0; k < keys; k++) {
                for (int i = 0; i < want[k].length; i++) {
                    double r = ratio(got[k][i], want[k][i]);
                    if (r > worst) {
                        worst = r;
                        where = "key " + k + " (" + lengths[k] + " events) output " + i + ": gpu " + got[k][i]
                                + ", cpu " + want[k][i];
                    }
                }
            }
            report(name + " outputs", worst, where);
            worst = 0;
            for (int k = 0; k < keys; k++) {
                float[] g = gpuStates[k].values();
                float[] w = cpuStates[k].values();
                for (int i = 0; i < w.length; i++) {
                    double r = ratio(g[i], w[i]);
                    if (r > worst) {
                        worst = r;
                        where = "key " + k + " state[" + i + "]: gpu " + g[i] + ", cpu " + w[i];
                    }
                }
                if (gpuStates[k].position() != cpuStates[k].position()) {
                    worst = Double.POSITIVE_INFINITY;
                    where = "key " + k + " position " + gpuStates[k].position() + " vs " + cpuStates[k].position();
                }
            }
            report(name + " final states", worst, where);
        }
    }

    /**
     * A golden case's events (keys interleaved) against its float64 reference, in GPU batches of
     * {@code window} events, each in passes over the device of at most {@code passRows} rows.
     */
    void golden(Path dir, int window, long passRows) throws IOException {
        Model model = Model.load(dir);
        if (GpuBatchScorer.unsupported(model.config()) != null) {
            return;
        }
        List<JsonNode> events = io.lseq.core.testing.TestModels.readJsonLinesGz(dir.resolve("events.jsonl.gz"));
        List<JsonNode> expected = io.lseq.core.testing.TestModels.readJsonLinesGz(dir.resolve("expected.jsonl.gz"));
        Map<String, KeyState> states = new LinkedHashMap<>();
        double worst = 0;
        String where = "";
        try (GpuBatchScorer gpu = new GpuBatchScorer(dev, model, passRows)) {
            for (int start = 0; start < events.size(); start += window) {
                int end = Math.min(events.size(), start + window);
                Map<String, List<Integer>> lines = new LinkedHashMap<>();
                for (int i = start; i < end; i++) {
                    lines.computeIfAbsent(events.get(i).get("key").asText(), x -> new ArrayList<>()).add(i);
                }
                List<Sequence> batch = new ArrayList<>();
                for (Map.Entry<String, List<Integer>> e : lines.entrySet()) {
                    KeyState st = states.computeIfAbsent(e.getKey(), x -> model.newState());
                    int[] t = e.getValue().stream().mapToInt(i -> events.get(i).get("token").asInt()).toArray();
                    batch.add(new Sequence(st, t, null, new float[t.length * model.outputSize()]));
                }
                gpu.score(batch);
                int b = 0;
                for (List<Integer> idx : lines.values()) {
                    float[] out = batch.get(b++).out();
                    for (int j = 0; j < idx.size(); j++) {
                        JsonNode want = expected.get(idx.get(j));
                        double r = ratio(out[j], want.get("score").asDouble());
                        if (r > worst) {
                            worst = r;
                            where = "line " + (idx.get(j) + 1) + ": gpu " + out[j] + ", reference " + want.get("score");
                        }
                    }
                }
            }
        }
        report("golden " + dir.getFileName() + " (" + events.size() + " events, windows of " + window
                + (passRows < window ? ", passes of " + passRows + " rows" : "") + ")", worst, where);
    }


    /** Every check; returns the number of failures. */
    int all(Path goldens) {
        try {
            for (String name : CONFIGS.keySet()) {
                randomModel(name, 7, Long.MAX_VALUE);
                randomModel(name, 7, 97); // keys cut across passes, every head
            }
            for (Path dir : Files.list(goldens).filter(Files::isDirectory).sorted().toList()) {
                golden(dir, 4096, Long.MAX_VALUE);
                golden(dir, 4096, 500); // keys cut across passes over the device
                if (!quick) {
                    golden(dir, 777, Long.MAX_VALUE);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return failures;
    }

    public static void main(String[] args) {
        boolean quick = args.length == 2 && args[0].equals("--quick");
        if (args.length != (quick ? 2 : 1) || args[0].equals("--help")) {
            System.out.println("usage: GpuCheck [--quick] GOLDEN_DIR   (recurrent-core/src/test/resources/golden)");
            System.exit(args.length == 1 ? 0 : 2);
        }
        String why = CudaDevice.probe();
        if (why != null) {
            System.err.println("GpuCheck: no GPU: " + why);
            System.exit(1);
        }
        try (CudaDevice dev = CudaDevice.open()) {
            System.out.println("device: " + dev.describe());
            int failures = new GpuCheck(dev, quick).all(Path.of(args[quick ? 1 : 0]));
            System.out.println(failures == 0 ? "all GPU checks passed" : failures + " GPU CHECKS FAILED");
            System.exit(failures == 0 ? 0 : 1);
        }
    }
}
