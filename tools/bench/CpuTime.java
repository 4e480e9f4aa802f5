import io.lseq.core.model.*;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Events per CPU-second of one thread stepping a model: event by event (keys = 1, Scorer.stepToken)
 * or micro-batches of `keys` different keys (Scorer.stepKeys), keys drawn in turn from a pool of
 * max(1,024, keys) warmed keys, random tokens. The thread's CPU time, not the wall clock: on a
 * shared machine another process's time slices do not count against it (its cache and a sibling
 * hyperthread still can: compare builds in turn, tools/cpu-ab.sh).
 *
 * <p>Compiled against any build's engine jar by tools/cpu-ab.sh, old or new (only public API).
 *
 * <p>usage: java -cp ENGINE_JAR:DIR CpuTime MODEL_DIR KEYS SECONDS_PER_REP REPS; prints the median
 * of the reps after the first (warm-up), and every rep.
 */
public class CpuTime {
    public static void main(String[] a) throws Exception {
        Model m = Model.load(Path.of(a[0]));
        int keys = Integer.parseInt(a[1]);
        double seconds = Double.parseDouble(a[2]);
        int reps = Integer.parseInt(a[3]);
        Scorer s = m.newScorer();
        int pool = Math.max(1024, keys);
        KeyState[] all = new KeyState[pool];
        for (int i = 0; i < pool; i++) all[i] = m.newState();
        KeyState[] group = new KeyState[keys];
        float[][] outs = new float[keys][m.outputSize()];
        int[] tok = new int[keys];
        SplittableRandom rnd = new SplittableRandom(42);
        int V = m.config().input().vocabSize();
        ThreadMXBean b = ManagementFactory.getThreadMXBean();
        double[] r = new double[reps + 1];
        int next = 0;
        for (int rep = 0; rep <= reps; rep++) {
            long c0 = b.getCurrentThreadCpuTime();
            long end = c0 + (long) (seconds * 1e9);
            long ev = 0;
            long c;
            do {
                for (int it = 0; it < 16; it++) {
                    for (int k = 0; k < keys; k++) { group[k] = all[next]; next = (next + 1) % pool; tok[k] = rnd.nextInt(V); }
                    if (keys == 1) s.stepToken(group[0], tok[0], outs[0]); else s.stepKeys(group, tok, null, keys, outs);
                    ev += keys;
                }
                c = b.getCurrentThreadCpuTime();
            } while (c < end);
            r[rep] = ev / ((c - c0) / 1e9);
        }
        double[] m2 = Arrays.copyOfRange(r, 1, r.length);
        Arrays.sort(m2);
        System.out.printf("keys %d: events per CPU-s median %.0f (reps %s)%n", keys, m2[m2.length / 2], Arrays.toString(Arrays.stream(r).mapToLong(x -> (long) x).toArray()));
    }
}
