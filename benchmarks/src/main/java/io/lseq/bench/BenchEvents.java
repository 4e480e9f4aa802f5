package io.lseq.bench;

import io.lseq.connectors.RawRecord;
import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * The benchmark's input: record {@code i} is event {@code i mod distinct} of a fixed, seeded set
 * of token events, as JSON bytes ({@code {"key":"key-000042","ts":...,"token":17}}), the key
 * uniform over {@code keys} keys and the token uniform over the vocabulary. Each event is a pure
 * function of (seed, index), so the set is the same in every run; {@link #prepare} builds it
 * once in memory and the generator then only picks the prepared bytes, the same cheap work for
 * every variant. (A generator that finds no prepared set, e.g. in another JVM, builds each
 * record itself.)
 */
final class BenchEvents implements GeneratorFunction<Long, RawRecord> {
    private static final long serialVersionUID = 1L;
    /** What {@link RawRecord#source()} says; only a dead letter would show it. */
    static final String SOURCE = "stream-bench";
    private static final long TS0 = 1_767_225_600_000L; // 2026-01-01T00:00:00Z

    private static volatile Prepared prepared;

    private final long seed;
    private final int distinct;
    private final int keys;
    private final int vocab;
    private final long total;
    private transient byte[][] events;

    /**
     * @param total records this source emits (cycling over the {@code distinct} events)
     */
    BenchEvents(long seed, int distinct, int keys, int vocab, long total) {
        this.seed = seed;
        this.distinct = distinct;
        this.keys = keys;
        this.vocab = vocab;
        this.total = total;
    }

    /** Builds the event set in memory (once per JVM and parameters). */
    static void prepare(long seed, int distinct, int keys, int vocab) {
        Prepared p = prepared;
        if (p == null || !p.matches(seed, distinct, keys, vocab)) {
            byte[][] ev = new byte[distinct][];
            for (int i = 0; i < distinct; i++) {
                ev[i] = json(seed, i, keys, vocab);
            }
            prepared = new Prepared(seed, distinct, keys, vocab, ev);
        }
    }

    /** Total bytes of the prepared events. */
    static long preparedBytes() {
        long b = 0;
        for (byte[] e : prepared.events) {
            b += e.length;
        }
        return b;
    }

    /** Event {@code i} of the set as JSON bytes. */
    static byte[] json(long seed, int i, int keys, int vocab) {
        int key = key(seed, i, keys);
        int token = token(seed, i, vocab);
        String s = "{\"key\":\"key-" + pad6(key) + "\",\"ts\":" + (TS0 + 10L * i) + ",\"token\":" + token + "}";
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public RawRecord map(Long index) {
        long i = index;
        if (i == 0) {
            RunProbe.startNanos = System.nanoTime();
            RunProbe.startProcessCpu = RunProbe.processCpu();
            RunProbe.sourceThreadCpuStart = RunProbe.threadCpu();
        }
        int e = (int) (i % distinct);
        byte[] v = events(e);
        if (i == total - 1) {
            RunProbe.sourceEndNanos = System.nanoTime();
            RunProbe.sourceThreadCpuEnd = RunProbe.threadCpu();
        }
        return new RawRecord(v, v.length, null, SOURCE);
    }

    private byte[] events(int e) {
        if (events == null) {
            Prepared p = prepared;
            if (p != null && p.matches(seed, distinct, keys, vocab)) {
                events = p.events;
            } else {
                return json(seed, e, keys, vocab);
            }
        }
        return events[e];
    }

    /** The key (as an index below {@code keys}) of event {@code i}. */
    static int key(long seed, int i, int keys) {
        return (int) Long.remainderUnsigned(h1(seed, i), keys);
    }

    /** The token of event {@code i}. */
    static int token(long seed, int i, int vocab) {
        return (int) Long.remainderUnsigned(mix(h1(seed, i) ^ 0xD1B54A32D192ED03L), vocab);
    }

    private static long h1(long seed, int i) {
        return mix(seed + 0x9E3779B97F4A7C15L * (2L * i + 1));
    }

    private static String pad6(int k) {
        String s = Integer.toString(k);
        return "000000".substring(Math.min(6, s.length())) + s;
    }

    /** SplitMix64's finalizer. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private record Prepared(long seed, int distinct, int keys, int vocab, byte[][] events) {
        boolean matches(long s, int d, int k, int v) {
            return seed == s && distinct == d && keys == k && vocab == v;
        }
    }
}
