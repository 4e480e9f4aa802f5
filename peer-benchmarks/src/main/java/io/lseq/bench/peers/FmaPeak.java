package io.lseq.bench.peers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * One core's float32 FMA peak, measured: independent chains of vector FMAs on registers, enough
 * of them to cover the FMA latency on every FMA port, in the widest vectors the JVM uses here.
 */
final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private FmaPeak() {}

    /** Vector lanes of the preferred species (16 with AVX-512). */
    static int lanes() {
        return S.length();
    }

    /** GFLOP/s (an FMA counts 2) over about {@code seconds}, after a warm-up that gets the loop compiled. */
    static double gflops(double seconds) {
        float sink = 0;
        for (int i = 0; i < 2_000; i++) {
            sink += chains(1_000);
        }
        long calls = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        long now;
        do {
            sink += chains(CHAIN_LENGTH);
            calls++;
            now = System.nanoTime();
        } while (now < end);
        if (sink == 42f) {
            System.out.print(""); // keeps the result alive
        }
        return calls * (double) CHAIN_LENGTH * 12 * S.length() * 2 / (now - t0);
    }

    private static final int CHAIN_LENGTH = 100_000;

    /** Twelve independent FMA chains of {@code n} steps each, on registers (a method of its own, so C2 compiles it whole). */
    private static float chains(int n) {
        FloatVector b = FloatVector.broadcast(S, 0.9999999f);
        FloatVector c = FloatVector.broadcast(S, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(S, 1f);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector a4 = a0;
        FloatVector a5 = a0;
        FloatVector a6 = a0;
        FloatVector a7 = a0;
        FloatVector a8 = a0;
        FloatVector a9 = a0;
        FloatVector a10 = a0;
        FloatVector a11 = a0;
        for (int i = 0; i < n; i++) {
            a0 = a0.fma(b, c);
            a1 = a1.fma(b, c);
            a2 = a2.fma(b, c);
            a3 = a3.fma(b, c);
            a4 = a4.fma(b, c);
            a5 = a5.fma(b, c);
            a6 = a6.fma(b, c);
            a7 = a7.fma(b, c);
            a8 = a8.fma(b, c);
            a9 = a9.fma(b, c);
            a10 = a10.fma(b, c);
            a11 = a11.fma(b, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
