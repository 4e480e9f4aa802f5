package io.lseq.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.lseq.bench.BenchCommand;
import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The engine's step beside its peers at their best, in one run, one thread each, at each batch
 * size (keys stepped together, one event each): the engine (event by event, and micro-batched with
 * {@code Scorer.stepKeys}), ONNX Runtime Java on a GEMM-shaped export with a batch dimension (fresh
 * tensors per call, and reused input tensors with pinned outputs), PyTorch eager and TorchScript
 * (tools/peers/torch_bench.py, a subprocess, so it runs while this JVM waits), and the core's
 * float32 FMA peak. Rounds interleave them; ratios are per round, then the median. Run with
 * {@code bin/lseq-bench peers} (see docs/BENCHMARKS.md).
 */
public final class PeerBench extends BenchCommand {
    private static final String USAGE = String.join("\n",
            "usage: bin/lseq-bench peers [--model DIR] [--onnx FILE] [--batches LIST] [--seconds S] [--rounds R]",
            "                            [--python PATH]",
            "",
            "Events/s of one thread stepping B keys at once (one event each), at each batch size B: the engine (event",
            "by event, and micro-batched), ONNX Runtime on a GEMM-shaped export (fresh tensors, and reused tensors with",
            "pinned outputs), PyTorch eager and TorchScript, and GFLOP/s against the core's FMA peak, all in this run.",
            "",
            "  --model DIR     an LRU model with tokens input and a next_token head (default examples/models/reference-lru)",
            "  --onnx FILE     its ONNX step with a batch dimension (default target/peers/NAME.onnx, exported with",
            "                  tools/peers/check_and_export.py when missing)",
            "  --batches LIST  batch sizes, comma-separated (default 1,4,16,64,256)",
            "  --seconds S     seconds per measurement (default 3)",
            "  --rounds R      measured rounds after one warm-up (default 3)",
            "  --python PATH   the Python with torch (default /usr/bin/python3)");

    /** The rows of each batch's table, in order. */
    private static final String[] PEERS = {"lseq, event by event", "lseq, micro-batch", "ONNX Runtime, pinned",
        "ONNX Runtime, fresh tensors", "PyTorch eager", "PyTorch TorchScript"};
    private static final int LSEQ_STEP = 0;
    private static final int LSEQ_BATCH = 1;
    private static final int ORT_PINNED = 2;
    private static final int ORT_FRESH = 3;
    private static final int TORCH_EAGER = 4;
    private static final int TORCH_SCRIPT = 5;

    private Path modelDir = Path.of("examples/models/reference-lru");
    private Path onnx;
    private int[] batches = {1, 4, 16, 64, 256};
    private double seconds = 3;
    private int rounds = 3;
    private String python = "/usr/bin/python3";

    public static void main(String[] args) throws Exception {
        new PeerBench().main("lseq-bench peers", args);
    }

    @Override
    protected String usage() {
        return USAGE;
    }

    @Override
    protected void option(String a, String v) {
        switch (a) {
            case "--model" -> modelDir = Path.of(v);
            case "--onnx" -> onnx = Path.of(v);
            case "--batches" -> batches = Arrays.stream(v.split(",")).mapToInt(b -> (int) positive(a, b.strip())).toArray();
            case "--seconds" -> seconds = Double.parseDouble(v);
            case "--rounds" -> rounds = (int) positive(a, v);
            case "--python" -> python = v;
            default -> throw new IllegalArgumentException("unknown option '" + a + "'");
        }
    }

    @Override
    protected void validate() {
        if (onnx == null) {
            onnx = Path.of("target/peers").resolve(modelDir.getFileName() + ".onnx");
        }
    }

    @Override
    protected void run() throws Exception {
        Model model = Model.load(modelDir);
        if (!Files.isRegularFile(onnx) || !batched(onnx)) {
            exec(List.of(python, "tools/peers/check_and_export.py", "--model", modelDir.toString(), "--out",
                    onnx.toString()));
        }
        double flops = flopsPerEvent(model.config());
        Runtime rt = Runtime.getRuntime();
        String torchInfo = exec(List.of(python, "tools/peers/torch_bench.py", "--model", modelDir.toString(),
                "--seconds", "0", "--batches", "1", "--warmup", "1")).get(0);
        System.out.println("# lseq peer benchmark, " + ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        System.out.printf(Locale.ROOT, "model:    %s (%,d parameters), %.3f MFLOP per event (2 x the multiply-adds of its "
                + "products)%n", modelDir, model.parameterCount(), flops / 1e6);
        System.out.printf(Locale.ROOT, "peers:    ONNX Runtime %s (%s, GEMM-shaped with a batch dimension, 1 intra-op "
                + "thread, ORT_ENABLE_ALL); %s (%s tools/peers/torch_bench.py)%n",
                OrtEnvironment.getEnvironment().getVersion(), onnx, torchInfo, python);
        System.out.printf(Locale.ROOT, "runs:     batches %s; %.1f s per measurement, 1 warm-up + %d rounds, one thread "
                + "each, B keys stepped together, the keys warmed first%n", Arrays.toString(batches), seconds, rounds);
        System.out.printf(Locale.ROOT, "jvm:      %s %s; %d cores; FMA peak with %d-lane float vectors%n",
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"), rt.availableProcessors(),
                FmaPeak.lanes());
        int[] tokens = tokens(model.config().input().vocabSize());
        // r[batch][peer][round]; peak[round]
        double[][][] r = new double[batches.length][PEERS.length][rounds];
        double[] peak = new double[rounds];
        try (OrtEnvironment env = OrtEnvironment.getEnvironment();
                OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            opts.setInterOpNumThreads(1);
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            try (OrtSession session = env.createSession(onnx.toString(), opts)) {
                System.out.printf(Locale.ROOT, "check:    ONNX Runtime against the engine, 4 keys x 200 events: largest "
                        + "score difference %.2e%n%n", check(model, env, session, tokens));
                System.out.println("| round | batch | " + String.join(" | ", PEERS) + " | FMA peak GFLOP/s |");
                System.out.println("| --- | --- |" + " --- |".repeat(PEERS.length + 1));
                for (int round = 0; round <= rounds; round++) {
                    Map<String, Double> torch = torch();
                    double p = FmaPeak.gflops(Math.min(2, seconds));
                    for (int b = 0; b < batches.length; b++) {
                        int batch = batches[b];
                        double[] e = new double[PEERS.length];
                        e[LSEQ_STEP] = engine(model, tokens, batch, false);
                        e[LSEQ_BATCH] = engine(model, tokens, batch, true);
                        e[ORT_PINNED] = new OrtPeer(env, session, batch).eventsPerSecond(tokens, seconds, true);
                        e[ORT_FRESH] = new OrtPeer(env, session, batch).eventsPerSecond(tokens, seconds, false);
                        e[TORCH_EAGER] = torch.get("eager " + batch);
                        e[TORCH_SCRIPT] = torch.get("torchscript " + batch);
                        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %d |",
                                round == 0 ? "warm-up" : Integer.toString(round), batch));
                        for (double x : e) {
                            row.append(String.format(Locale.ROOT, " %,.0f |", x));
                        }
                        System.out.println(row.append(String.format(Locale.ROOT, " %.1f |", p)));
                        if (round > 0) {
                            for (int i = 0; i < PEERS.length; i++) {
                                r[b][i][round - 1] = e[i];
                            }
                        }
                    }
                    if (round > 0) {
                        peak[round - 1] = p;
                    }
                }
            }
        }
        summary(r, peak, flops);
    }

    /** Whether the ONNX file's token input has a batch dimension (an older export had a fixed [1]). */
    private static boolean batched(Path onnx) throws OrtException {
        try (OrtEnvironment env = OrtEnvironment.getEnvironment();
                OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            return ((TensorInfo) s.getInputInfo().get("token").getInfo()).getShape()[0] < 0;
        }
    }

    private void summary(double[][][] r, double[] peaks, double flops) {
        double peak = median(peaks);
        System.out.printf(Locale.ROOT, "%nmedians of %d rounds; FMA peak %.1f GFLOP/s; lseq is the micro-batch (or the "
                + "step at batch 1)%n", rounds, peak);
        for (int b = 0; b < batches.length; b++) {
            System.out.printf(Locale.ROOT, "%n### %d key%s per call%n%n", batches[b], batches[b] == 1 ? "" : "s");
            System.out.println("| step | events/s | µs per event | GFLOP/s | of the FMA peak | lseq / this, median of rounds |");
            System.out.println("| --- | --- | --- | --- | --- | --- |");
            int lseq = batches[b] == 1 ? LSEQ_STEP : LSEQ_BATCH;
            for (int i = 0; i < PEERS.length; i++) {
                if (batches[b] == 1 && i == LSEQ_BATCH) {
                    continue; // one key: the micro-batch is the step
                }
                double eps = median(r[b][i]);
                double[] ratios = new double[rounds];
                for (int k = 0; k < rounds; k++) {
                    ratios[k] = r[b][lseq][k] / r[b][i][k];
                }
                System.out.printf(Locale.ROOT, "| %s | %,.0f | %.2f | %.1f | %.1f%% | %s |%n", PEERS[i], eps, 1e6 / eps,
                        eps * flops / 1e9, 100 * eps * flops / 1e9 / peak,
                        i == lseq ? "" : String.format(Locale.ROOT, "%.2fx", median(ratios)));
            }
        }
    }

    private static int[] tokens(int vocab) {
        SplittableRandom rnd = new SplittableRandom(42);
        int[] t = new int[4096];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    /** Events/s of {@code batch} keys, one event each per round of calls: key by key, or one stepKeys. */
    private double engine(Model model, int[] tokens, int batch, boolean micro) {
        Scorer scorer = model.newScorer();
        KeyState[] keys = new KeyState[batch];
        float[][] outs = new float[batch][model.outputSize()];
        int[] tok = new int[batch];
        for (int k = 0; k < batch; k++) {
            keys[k] = model.newState();
        }
        long calls = 0;
        long t0 = 0;
        long end = Long.MAX_VALUE;
        long now;
        for (long i = 0; ; i++) {
            int at = (int) (i * batch);
            for (int k = 0; k < batch; k++) {
                tok[k] = tokens[(at + k) & 4095];
            }
            if (micro) {
                scorer.stepKeys(keys, tok, null, batch, outs);
            } else {
                for (int k = 0; k < batch; k++) {
                    scorer.stepToken(keys[k], tok[k], outs[k]);
                }
            }
            if (i == warmCalls(batch)) {
                t0 = System.nanoTime();
                end = t0 + (long) (seconds * 1e9);
            } else if (i > warmCalls(batch)) {
                calls++;
                if ((calls & 15) == 0 && (now = System.nanoTime()) >= end) {
                    return calls * batch / ((now - t0) / 1e9);
                }
            }
        }
    }

    /** Calls before timing: about 2,000 events, at least 20 calls. */
    private static long warmCalls(int batch) {
        return Math.max(20, 2000 / batch);
    }

    /**
     * ONNX Runtime stepping {@code batch} keys per {@code run()}. Pinned: the input tensors are made
     * once on direct buffers (ORT reads them in place) and the outputs are pinned to a second set,
     * the two sets swapping roles every call, so a call copies and allocates nothing but its
     * result holder; fresh: new tensors in and out every call, the state copied back, as the
     * plain API is used.
     */
    private static final class OrtPeer {
        private final OrtEnvironment env;
        private final OrtSession session;
        private final int batch;
        private final List<String> states = new ArrayList<>();
        private final Map<String, Integer> width = new HashMap<>();

        OrtPeer(OrtEnvironment env, OrtSession session, int batch) throws OrtException {
            this.env = env;
            this.session = session;
            this.batch = batch;
            for (String name : session.getInputNames()) {
                if (!name.equals("token")) {
                    states.add(name);
                    width.put(name, (int) ((TensorInfo) session.getInputInfo().get(name).getInfo()).getShape()[1]);
                }
            }
        }

        double eventsPerSecond(int[] tokens, double seconds, boolean pinned) throws OrtException {
            return pinned ? pinned(tokens, seconds, null) : fresh(tokens, seconds, null);
        }

        private static FloatBuffer floats(int n) {
            return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
        }

        /** @param scores when not null, the first calls' scores are written there (key-major per call) and it stops */
        double pinned(int[] tokens, double seconds, float[] scores) throws OrtException {
            LongBuffer tok = ByteBuffer.allocateDirect(8 * batch).order(ByteOrder.nativeOrder()).asLongBuffer();
            List<OnnxTensor> all = new ArrayList<>();
            try {
                OnnxTensor token = OnnxTensor.createTensor(env, tok, new long[] {batch});
                all.add(token);
                FloatBuffer scoreBuf = floats(batch);
                OnnxTensor score = OnnxTensor.createTensor(env, scoreBuf, new long[] {batch});
                all.add(score);
                @SuppressWarnings("unchecked")
                Map<String, OnnxTensor>[] set = new Map[] {new LinkedHashMap<>(), new LinkedHashMap<>()};
                for (Map<String, OnnxTensor> m : set) {
                    for (String name : states) {
                        OnnxTensor t = OnnxTensor.createTensor(env, floats(batch * width.get(name)),
                                new long[] {batch, width.get(name)});
                        all.add(t);
                        m.put(name, t);
                    }
                }
                @SuppressWarnings("unchecked")
                Map<String, OnnxTensor>[] in = new Map[2];
                @SuppressWarnings("unchecked")
                Map<String, OnnxValue>[] out = new Map[2];
                for (int s = 0; s < 2; s++) {
                    in[s] = new HashMap<>(set[s]);
                    in[s].put("token", token);
                    out[s] = new HashMap<>();
                    out[s].put("score", score);
                    for (String name : states) {
                        out[s].put(name + "_out", set[1 - s].get(name));
                    }
                }
                long calls = 0;
                long t0 = 0;
                long end = Long.MAX_VALUE;
                long now;
                for (long i = 0; ; i++) {
                    int at = (int) (i * batch);
                    for (int k = 0; k < batch; k++) {
                        tok.put(k, tokens[(at + k) & 4095]);
                    }
                    int s = (int) (i & 1);
                    session.run(in[s], out[s]).close(); // closing the result leaves pinned outputs alone
                    if (scores != null) {
                        for (int k = 0; k < batch; k++) {
                            scores[at + k] = scoreBuf.get(k);
                        }
                        if (at + 2 * batch > scores.length) {
                            return 0;
                        }
                        continue;
                    }
                    if (i == warmCalls(batch)) {
                        t0 = System.nanoTime();
                        end = t0 + (long) (seconds * 1e9);
                    } else if (i > warmCalls(batch)) {
                        calls++;
                        if ((calls & 15) == 0 && (now = System.nanoTime()) >= end) {
                            return calls * batch / ((now - t0) / 1e9);
                        }
                    }
                }
            } finally {
                all.forEach(OnnxTensor::close);
            }
        }

        double fresh(int[] tokens, double seconds, float[] scores) throws OrtException {
            Map<String, float[]> state = new LinkedHashMap<>();
            for (String name : states) {
                state.put(name, new float[batch * width.get(name)]);
            }
            long calls = 0;
            long t0 = 0;
            long end = Long.MAX_VALUE;
            long now;
            for (long i = 0; ; i++) {
                int at = (int) (i * batch);
                long[] tok = new long[batch];
                for (int k = 0; k < batch; k++) {
                    tok[k] = tokens[(at + k) & 4095];
                }
                Map<String, OnnxTensor> in = new HashMap<>();
                try {
                    in.put("token", OnnxTensor.createTensor(env, LongBuffer.wrap(tok), new long[] {batch}));
                    for (Map.Entry<String, float[]> s : state.entrySet()) {
                        in.put(s.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(s.getValue()),
                                new long[] {batch, width.get(s.getKey())}));
                    }
                    try (OrtSession.Result res = session.run(in)) {
                        for (Map.Entry<String, float[]> s : state.entrySet()) {
                            ((OnnxTensor) res.get(s.getKey() + "_out").orElseThrow()).getFloatBuffer().get(s.getValue());
                        }
                        if (scores != null) {
                            ((OnnxTensor) res.get("score").orElseThrow()).getFloatBuffer().get(scores, at, batch);
                        }
                    }
                } finally {
                    in.values().forEach(OnnxTensor::close);
                }
                if (scores != null) {
                    if (at + 2 * batch > scores.length) {
                        return 0;
                    }
                    continue;
                }
                if (i == warmCalls(batch)) {
                    t0 = System.nanoTime();
                    end = t0 + (long) (seconds * 1e9);
                } else if (i > warmCalls(batch)) {
                    calls++;
                    if ((calls & 15) == 0 && (now = System.nanoTime()) >= end) {
                        return calls * batch / ((now - t0) / 1e9);
                    }
                }
            }
        }
    }

    /**
     * The largest difference between ONNX Runtime's scores (pinned and fresh) and the engine's on
     * 4 keys x 200 events: the peers compute the same function. The ONNX step starts from zero
     * states, without the BOS step, so the engine's keys are stepped from zeros too.
     */
    private static double check(Model model, OrtEnvironment env, OrtSession session, int[] tokens) throws OrtException {
        int batch = 4;
        int n = 200 * batch;
        float[] pinned = new float[n];
        float[] fresh = new float[n];
        new OrtPeer(env, session, batch).pinned(tokens, 0, pinned);
        new OrtPeer(env, session, batch).fresh(tokens, 0, fresh);
        Scorer scorer = model.newScorer();
        KeyState[] keys = new KeyState[batch];
        for (int k = 0; k < batch; k++) {
            keys[k] = model.newState();
            Arrays.fill(keys[k].values(), 0f); // the ONNX peer starts from zeros, no BOS
        }
        float[] out = new float[model.outputSize()];
        double worst = 0;
        for (int i = 0; i < n; i++) {
            scorer.stepToken(keys[i % batch], tokens[i & 4095], out);
            worst = Math.max(worst, Math.max(Math.abs(out[0] - pinned[i]), Math.abs(out[0] - fresh[i])));
        }
        return worst;
    }

    /** PyTorch's events/s per "mode batch" (eager 16, torchscript 16, ...): one subprocess for every batch size. */
    private Map<String, Double> torch() throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python, "tools/peers/torch_bench.py", "--model", modelDir.toString(),
                "--seconds", Double.toString(seconds), "--modes", "eager", "torchscript", "--batches"));
        Arrays.stream(batches).forEach(b -> cmd.add(Integer.toString(b)));
        Map<String, Double> eps = new HashMap<>();
        List<String> out = exec(cmd);
        for (String line : out) {
            if (line.startsWith("events/s ")) {
                String[] p = line.substring("events/s ".length()).split(": ");
                eps.put(p[0], Double.parseDouble(p[1]));
            }
        }
        if (eps.size() != 2 * batches.length) {
            throw new IOException("torch_bench.py printed: " + String.join("\n", out));
        }
        return eps;
    }

    private static List<String> exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        }
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed:\n" + String.join("\n", lines));
        }
        return lines;
    }

    /** 2 x the multiply-adds of the model's matrix products for one event (norms, gates and the recurrence excluded). */
    static double flopsPerEvent(ModelConfig c) {
        long h = c.dModel();
        long macs = (long) c.input().vocabSize() * h; // next-token head
        for (ModelConfig.Block b : c.blocks()) {
            if (!(b.mixer() instanceof ModelConfig.Lru lru)) {
                throw new IllegalArgumentException("the peer benchmark takes LRU models; block mixer " + b.mixer().type());
            }
            macs += 2L * lru.dState() * h * 2; // B [2N, H] and C [H, 2N]
            if (b.post() == ModelConfig.Post.GLU) {
                macs += 2 * h * h;
            }
        }
        return 2.0 * macs;
    }
}
