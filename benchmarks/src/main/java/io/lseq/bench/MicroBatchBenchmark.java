package io.lseq.bench;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Events/s of one thread stepping many keys: event by event ({@code Scorer.stepToken}, keys = 1)
 * against micro-batches of {@code keys} different keys at once ({@code Scorer.stepKeys}). Each
 * invocation scores 64 events of 64 different keys (of 1,024 warmed keys, rotating), so ops/s
 * are events/s for every row.
 *
 * <p>{@code java -jar benchmarks/target/benchmarks.jar MicroBatchBenchmark}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class MicroBatchBenchmark {
    static final int EVENTS = 64;
    static final int KEYS = 1024;

    @Param({"reference-lru", "reference-attention"})
    public String model;

    @Param({"1", "4", "16", "64"})
    public int keys;

    /** The Vector API kernels (true) or the auto-vectorized scalar loops (false). */
    @Param({"true", "false"})
    public String vector;

    private Scorer scorer;
    private KeyState[] states;
    private KeyState[] group;
    private int[] tokens;
    private float[][] outs;
    private final float[] out = new float[1];
    private int next;
    private SplittableRandom rnd;
    private int vocab;

    @Setup
    public void setup() {
        System.setProperty("lseq.vector", vector); // before the engine's classes load: each fork is fresh
        Model m = Model.load(StepBenchmark.examples().resolve("models").resolve(model));
        scorer = m.newScorer();
        vocab = m.config().input().vocabSize();
        rnd = new SplittableRandom(42);
        states = new KeyState[KEYS];
        for (int k = 0; k < KEYS; k++) {
            states[k] = m.newState();
            for (int i = 0; i < 300; i++) { // attention windows filled to 300 of 256+
                scorer.stepToken(states[k], rnd.nextInt(vocab), out);
            }
        }
        group = new KeyState[keys];
        tokens = new int[keys];
        outs = new float[keys][1];
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public float step() {
        float sum = 0;
        for (int done = 0; done < EVENTS; done += keys) {
            for (int k = 0; k < keys; k++) {
                group[k] = states[next];
                next = (next + 1) & (KEYS - 1);
                tokens[k] = rnd.nextInt(vocab);
            }
            if (keys == 1) {
                scorer.stepToken(group[0], tokens[0], out);
                sum += out[0];
            } else {
                scorer.stepKeys(group, tokens, null, keys, outs);
                sum += outs[0][0];
            }
        }
        return sum;
    }
}
