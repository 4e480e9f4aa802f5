package io.lseq.bench;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Single-thread per-event step throughput of the engine (ops/s = events/s) on the bundled
 * reference models: tokens V=512, H=64, two blocks with glu, next-token surprisal; the blocks
 * are LRU (N=128) or windowed attention (4 heads, W=256). The key is warmed with 1,000 events
 * first, so the attention window is full, as it is on a long-running stream.
 *
 * <p>Run from the repository root: {@code java -jar benchmarks/target/benchmarks.jar StepBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
public class StepBenchmark {
    @Param({"reference-lru", "reference-attention"})
    public String model;

    /** The Vector API kernels (true) or the auto-vectorized scalar loops (false); see {@code Linear}. */
    @Param({"true", "false"})
    public String vector;

    private Scorer scorer;
    private KeyState key;
    private final float[] out = new float[1];
    private final int[] tokens = new int[4096];
    private int next;

    @Setup
    public void setup() {
        System.setProperty("lseq.vector", vector); // before the engine's classes load: each fork is fresh
        Model m = Model.load(examples().resolve("models").resolve(model));
        if (io.lseq.core.math.VectorSwitch.ON != Boolean.parseBoolean(vector)) {
            throw new IllegalStateException("lseq.vector=" + vector + " did not take effect");
        }
        scorer = m.newScorer();
        key = m.newState();
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(m.config().input().vocabSize());
        }
        for (int i = 0; i < 1000; i++) {
            step();
        }
    }

    @Benchmark
    public float step() {
        scorer.stepToken(key, tokens[next++ & (tokens.length - 1)], out);
        return out[0];
    }

    /** The examples folder, from the working directory or the {@code lseq.root} property. */
    static Path examples() {
        Path p = Paths.get(System.getProperty("lseq.root", "")).toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isDirectory(q.resolve("examples/models"))) {
                return q.resolve("examples");
            }
        }
        throw new IllegalStateException("no examples/models above " + p + "; run from the repository root or set -Dlseq.root");
    }
}
