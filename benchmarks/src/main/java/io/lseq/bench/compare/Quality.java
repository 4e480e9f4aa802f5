package io.lseq.bench.compare;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Quality on the long-range task: a file of events in which probe events carry an id
 * {@code normal-...} (drawn from the key's true distribution) or {@code anomaly-...} (from a
 * wrong one). Scores every event in file order with the step path and reduces the probes'
 * surprisal to the mean over normal probes and the detection AUC (probability that an anomaly
 * scores above a normal probe, ties counted half).
 *
 * @param events events scored
 * @param normal normal probes
 * @param anomalies anomalous probes
 * @param meanSurprisal mean surprisal of the normal probes, in nats
 * @param auc detection AUC of surprisal, anomaly against normal
 * @param seconds time of the scoring loop (parsing included), one thread
 */
record Quality(long events, int normal, int anomalies, double meanSurprisal, double auc, double seconds) {
    /** Events scored per second by this measurement (parsing included). */
    double eventsPerSecond() {
        return events / seconds;
    }

    static Quality measure(Model model, Path file) throws IOException {
        EventParser parser = new EventParser(model.config().input());
        Scorer scorer = model.newScorer();
        float[] out = new float[model.outputSize()];
        Map<String, KeyState> states = new HashMap<>();
        double[] normal = new double[1024];
        double[] anomaly = new double[1024];
        int nn = 0;
        int na = 0;
        long events = 0;
        long t0 = System.nanoTime();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                Event e;
                try {
                    e = parser.parse(line, null);
                } catch (InvalidEventException ex) {
                    throw new IOException(file + ":" + lineNo + ": " + ex.getMessage(), ex);
                }
                KeyState st = states.computeIfAbsent(e.key(), k -> model.newState());
                scorer.stepToken(st, e.token(), out);
                events++;
                if (e.id() == null) {
                    continue;
                }
                if (e.id().startsWith("normal")) {
                    if (nn == normal.length) {
                        normal = Arrays.copyOf(normal, 2 * nn);
                    }
                    normal[nn++] = out[0];
                } else if (e.id().startsWith("anomaly")) {
                    if (na == anomaly.length) {
                        anomaly = Arrays.copyOf(anomaly, 2 * na);
                    }
                    anomaly[na++] = out[0];
                }
            }
        }
        double[] n = Arrays.copyOf(normal, nn);
        double[] a = Arrays.copyOf(anomaly, na);
        return new Quality(events, nn, na, Arrays.stream(n).average().orElse(Double.NaN), auc(a, n),
                (System.nanoTime() - t0) / 1e9);
    }

    /** Mann-Whitney AUC: P(positive > negative) + P(equal) / 2, by ranks, O((p+n) log(p+n)). */
    static double auc(double[] positive, double[] negative) {
        int p = positive.length;
        int n = negative.length;
        if (p == 0 || n == 0) {
            return Double.NaN;
        }
        double[][] all = new double[p + n][];
        for (int i = 0; i < p; i++) {
            all[i] = new double[] {positive[i], 1};
        }
        for (int i = 0; i < n; i++) {
            all[p + i] = new double[] {negative[i], 0};
        }
        Arrays.sort(all, (x, y) -> Double.compare(x[0], y[0]));
        double rankSum = 0;
        for (int i = 0; i < all.length; ) {
            int j = i;
            while (j < all.length && all[j][0] == all[i][0]) {
                j++;
            }
            double rank = (i + 1 + j) / 2.0; // mean of ranks i+1 .. j
            for (int k = i; k < j; k++) {
                if (all[k][1] == 1) {
                    rankSum += rank;
                }
            }
            i = j;
        }
        return (rankSum - p * (p + 1) / 2.0) / ((double) p * n);
    }
}
