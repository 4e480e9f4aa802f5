package io.lseq.bench;

import io.lseq.core.model.BatchScorer;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.core.model.Sequence;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Backfill on CPU: the batch path ({@link BatchScorer}, {@code threads} threads) against the
 * step path (one thread, event by event) on the same model and the same 65,536 events, either
 * 256 keys x 256 events or one key x 65,536 events. Scores are events/s (ops = events).
 *
 * <p>Run from the repository root: {@code java -jar benchmarks/target/benchmarks.jar BatchBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
@OperationsPerInvocation(BatchBenchmark.EVENTS)
public class BatchBenchmark {
    static final int EVENTS = 65_536;

    @Param({"reference-lru"})
    public String model;

    /** "many": 256 keys x 256 events; "one": 1 key x 65,536 events. */
    @Param({"many", "one"})
    public String shape;

    @Param({"2"})
    public int threads;

    private Model m;
    private Scorer scorer;
    private BatchScorer batch;
    private int keys;
    private int[][] tokens;
    private KeyState[] states;
    private final float[] out = new float[1];
    private float[][] outs;

    @Setup
    public void setup() {
        m = Model.load(StepBenchmark.examples().resolve("models").resolve(model));
        scorer = m.newScorer();
        batch = new BatchScorer(m, threads);
        keys = shape.equals("many") ? 256 : 1;
        int perKey = EVENTS / keys;
        SplittableRandom rnd = new SplittableRandom(42);
        tokens = new int[keys][perKey];
        outs = new float[keys][perKey];
        states = new KeyState[keys];
        for (int k = 0; k < keys; k++) {
            states[k] = m.newState();
            for (int t = 0; t < perKey; t++) {
                tokens[k][t] = rnd.nextInt(m.config().input().vocabSize());
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        batch.close();
    }

    /** Event by event, keys interleaved as a stream would have them. */
    @Benchmark
    public float step() {
        int perKey = tokens[0].length;
        float sum = 0;
        for (int t = 0; t < perKey; t++) {
            for (int k = 0; k < keys; k++) {
                scorer.stepToken(states[k], tokens[k][t], out);
                sum += out[0];
            }
        }
        return sum;
    }

    /** All of it in one batch. */
    @Benchmark
    public float batch() {
        List<Sequence> seqs = new ArrayList<>(keys);
        for (int k = 0; k < keys; k++) {
            seqs.add(new Sequence(states[k], tokens[k], null, outs[k]));
        }
        batch.score(seqs);
        return outs[0][0];
    }
}
