package io.lseq.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.lseq.bench.BenchCommand;
import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The engine's per-event step beside its peers, in one run, one thread each: the engine
 * ({@code Scorer.stepToken}), ONNX Runtime Java (one {@code run()} per event, the key's state in
 * and out), a PyTorch eager step (tools/peers/torch_bench.py, a subprocess, so it runs while this
 * JVM waits), and the core's float32 FMA peak. Rounds interleave them; ratios are per round, then
 * the median. Run with {@code bin/lseq-bench peers} (see docs/BENCHMARKS.md).
 */
public final class PeerBench extends BenchCommand {
    private static final String USAGE = String.join("\n",
            "usage: bin/lseq-bench peers [--model DIR] [--onnx FILE] [--seconds S] [--rounds R] [--python PATH]",
            "",
            "Events/s of one key's step, one thread: the engine, ONNX Runtime (state in and out), PyTorch eager,",
            "and GFLOP/s against the core's FMA peak, all in this run.",
            "",
            "  --model DIR     an LRU model with tokens input and a next_token head (default examples/models/reference-lru)",
            "  --onnx FILE     its ONNX step (default target/peers/NAME.onnx, exported with tools/peers/check_and_export.py",
            "                  when missing)",
            "  --seconds S     seconds per measurement (default 5)",
            "  --rounds R      measured rounds after one warm-up (default 3)",
            "  --python PATH   the Python with torch (default /usr/bin/python3)");

    private Path modelDir = Path.of("examples/models/reference-lru");
    private Path onnx;
    private double seconds = 5;
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
        if (!Files.isRegularFile(onnx)) {
            exec(List.of(python, "tools/peers/check_and_export.py", "--model", modelDir.toString(), "--out",
                    onnx.toString()));
        }
        double flops = flopsPerEvent(model.config());
        Runtime rt = Runtime.getRuntime();
        System.out.println("# lseq peer benchmark, " + ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        System.out.printf(Locale.ROOT, "model:    %s (%,d parameters), %.3f MFLOP per event (2 x the multiply-adds of its "
                + "products)%n", modelDir, model.parameterCount(), flops / 1e6);
        System.out.printf(Locale.ROOT, "peers:    ONNX Runtime %s (%s, 1 intra-op thread, %s), PyTorch eager (%s "
                + "tools/peers/torch_bench.py)%n", OrtEnvironment.getEnvironment().getVersion(), onnx, "ORT_ENABLE_ALL",
                python);
        System.out.printf(Locale.ROOT, "runs:     %.1f s per measurement, 1 warm-up + %d rounds, one thread each, the key "
                + "warmed with 1,000 events%n", seconds, rounds);
        System.out.printf(Locale.ROOT, "jvm:      %s %s; %d cores; FMA peak with %d-lane float vectors%n",
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"), rt.availableProcessors(),
                FmaPeak.lanes());
        System.out.println();
        System.out.println("| round | engine events/s | ONNX Runtime events/s | PyTorch events/s | FMA peak GFLOP/s |");
        System.out.println("| --- | --- | --- | --- | --- |");
        int[] tokens = tokens(model.config().input().vocabSize());
        double[][] r = new double[4][rounds];
        try (OrtEnvironment env = OrtEnvironment.getEnvironment();
                OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            opts.setInterOpNumThreads(1);
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            try (OrtSession session = env.createSession(onnx.toString(), opts)) {
                for (int round = 0; round <= rounds; round++) {
                    double e = engine(model, tokens);
                    double o = onnxRuntime(env, session, tokens);
                    double t = torch();
                    double p = FmaPeak.gflops(Math.min(2, seconds));
                    System.out.printf(Locale.ROOT, "| %s | %,.0f | %,.0f | %,.0f | %.1f |%n",
                            round == 0 ? "warm-up" : Integer.toString(round), e, o, t, p);
                    if (round > 0) {
                        r[0][round - 1] = e;
                        r[1][round - 1] = o;
                        r[2][round - 1] = t;
                        r[3][round - 1] = p;
                    }
                }
            }
        }
        summary(r, flops);
    }

    private void summary(double[][] r, double flops) {
        double peak = median(r[3]);
        System.out.println();
        System.out.printf(Locale.ROOT, "medians of %d rounds:%n%n", rounds);
        System.out.println("| step | events/s | ns/event | GFLOP/s | of the FMA peak |");
        System.out.println("| --- | --- | --- | --- | --- |");
        String[] names = {"engine (lseq)", "ONNX Runtime Java", "PyTorch eager"};
        for (int i = 0; i < 3; i++) {
            double eps = median(r[i]);
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %,.0f | %.2f | %.1f%% |%n", names[i], eps, 1e9 / eps,
                    eps * flops / 1e9, 100 * eps * flops / 1e9 / peak);
        }
        System.out.printf(Locale.ROOT, "| FMA peak | | | %.1f | 100%% |%n", peak);
        System.out.println();
        for (int p = 1; p <= 2; p++) {
            double[] ratios = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                ratios[i] = r[0][i] / r[p][i];
            }
            System.out.printf(Locale.ROOT, "engine / %s per round: %s -> median %.2fx%n", names[p], Arrays.toString(
                    Arrays.stream(ratios).mapToObj(x -> String.format(Locale.ROOT, "%.2f", x)).toArray()), median(ratios));
        }
    }

    private int[] tokens(int vocab) {
        SplittableRandom rnd = new SplittableRandom(42);
        int[] t = new int[4096];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    private double engine(Model model, int[] tokens) {
        Scorer scorer = model.newScorer();
        KeyState key = model.newState();
        float[] out = new float[1];
        for (int i = 0; i < 1000; i++) {
            scorer.stepToken(key, tokens[i & 4095], out);
        }
        long n = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        long now;
        do {
            for (int i = 0; i < 256; i++, n++) {
                scorer.stepToken(key, tokens[(int) (n & 4095)], out);
            }
            now = System.nanoTime();
        } while (now < end);
        return n / ((now - t0) / 1e9);
    }

    private double onnxRuntime(OrtEnvironment env, OrtSession session, int[] tokens) throws OrtException {
        List<String> names = new ArrayList<>(session.getInputNames());
        // State tensors in input order after "token": y, then h<i>_re, h<i>_im per block.
        Map<String, float[]> state = new HashMap<>();
        for (String name : names) {
            if (!name.equals("token")) {
                long[] shape = ((ai.onnxruntime.TensorInfo) session.getInputInfo().get(name).getInfo()).getShape();
                state.put(name, new float[(int) shape[0]]);
            }
        }
        long n = 0;
        long t0 = 0;
        long end = Long.MAX_VALUE;
        long now;
        for (int i = 0; ; i++) {
            Map<String, OnnxTensor> in = new HashMap<>();
            try {
                in.put("token", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {tokens[i & 4095]}), new long[] {1}));
                for (Map.Entry<String, float[]> s : state.entrySet()) {
                    in.put(s.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(s.getValue()),
                            new long[] {s.getValue().length}));
                }
                try (OrtSession.Result res = session.run(in)) {
                    for (Map.Entry<String, float[]> s : state.entrySet()) {
                        FloatBuffer fb = ((OnnxTensor) res.get(s.getKey() + "_out").orElseThrow()).getFloatBuffer();
                        fb.get(s.getValue());
                    }
                }
            } finally {
                in.values().forEach(OnnxTensor::close);
            }
            if (i == 999) { // warmed: the key has seen 1,000 events
                t0 = System.nanoTime();
                end = t0 + (long) (seconds * 1e9);
            } else if (i > 999) {
                n++;
                if ((n & 255) == 0 && (now = System.nanoTime()) >= end) {
                    return n / ((now - t0) / 1e9);
                }
            }
        }
    }

    private double torch() throws IOException, InterruptedException {
        List<String> out = exec(List.of(python, "tools/peers/torch_bench.py", "--model", modelDir.toString(), "--seconds",
                Double.toString(seconds)));
        String last = out.get(out.size() - 1);
        if (!last.startsWith("events/s: ")) {
            throw new IOException("torch_bench.py printed: " + String.join("\n", out));
        }
        return Double.parseDouble(last.substring("events/s: ".length()));
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
