package io.lseq.bench;

import java.util.Properties;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * Reads the scoring operator's {@code lseq.latencyNanos} histogram (arrival at the operator to
 * score, micro-batch wait included) when its task ends, for {@link StreamBench}: the MiniCluster
 * runs in the benchmark's JVM, so a static field reaches {@code main}.
 */
public final class LatencyReporter implements MetricReporter {
    /** Quantiles of the last run: p50 and p99 in ns, and how many samples the window held. */
    static volatile double p50;
    static volatile double p99;
    static volatile int samples;

    static void reset() {
        p50 = p99 = Double.NaN;
        samples = 0;
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {}

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        if (name.equals("latencyNanos") && metric instanceof Histogram h) {
            HistogramStatistics s = h.getStatistics();
            p50 = s.getQuantile(0.5);
            p99 = s.getQuantile(0.99);
            samples = s.size();
        }
    }

    /** {@code metrics.reporter.latency.factory.class}. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new LatencyReporter();
        }
    }
}
