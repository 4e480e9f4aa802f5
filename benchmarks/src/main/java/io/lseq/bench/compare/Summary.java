package io.lseq.bench.compare;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/** The numbers of one compare run that the closing "which to choose" section is drawn from. */
final class Summary {
    /** One model at one window (0: a model without a window). */
    record Variant(String model, int window, long stateBytes, double stepEventsPerSecond, Quality[] quality,
            int[] distances) {
        /** The largest distance up to which every measured AUC is at least {@code min} (0 if none). */
        int reach(double min) {
            int r = 0;
            for (int i = 0; i < distances.length; i++) {
                if (quality[i] == null) {
                    break;
                }
                if (!(quality[i].auc() >= min)) {
                    break;
                }
                r = distances[i];
            }
            return r;
        }
    }

    final TreeMap<String, Long> stateBytes = new TreeMap<>();
    final TreeMap<String, Double> streaming = new TreeMap<>();
    final TreeMap<String, Double> longKey = new TreeMap<>();
    final TreeMap<String, Double> quality1 = new TreeMap<>();
    final TreeMap<String, Double> quality2 = new TreeMap<>();
    final List<Variant> variants = new ArrayList<>();
    int[] distances1 = {};
    int[] distances2 = {};

    /** Lowest AUC over the measured distances (NaN if none). */
    static double minAuc(Quality[] q) {
        double m = Double.NaN;
        for (Quality x : q) {
            if (x != null && (Double.isNaN(m) || x.auc() < m)) {
                m = x.auc();
            }
        }
        return m;
    }

    /** Lowest AUC over the files whose distance is at most {@code upTo} (NaN if none). */
    static double minAuc(Quality[] q, int[] distances, int upTo) {
        double m = Double.NaN;
        for (int i = 0; i < q.length; i++) {
            if (distances[i] <= upTo && q[i] != null && (Double.isNaN(m) || q[i].auc() < m)) {
                m = q[i].auc();
            }
        }
        return m;
    }
}
