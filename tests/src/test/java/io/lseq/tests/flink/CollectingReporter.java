package io.lseq.tests.flink;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A Flink metric reporter for tests: keeps the last value of every {@code lseq} metric, read when
 * the metric is removed (at the end of the task), summed over subtasks.
 */
public final class CollectingReporter implements MetricReporter {
    /** Metric name (e.g. {@code lseq.eventsIn}) to its summed final value; histograms give their count. */
    static final Map<String, Long> FINAL = new ConcurrentHashMap<>();

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {}

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        String id = group.getMetricIdentifier(name);
        int at = id.indexOf(".lseq.");
        if (at < 0) {
            return;
        }
        String key = id.substring(at + 1);
        long v;
        if (metric instanceof Counter c) {
            v = c.getCount();
        } else if (metric instanceof Histogram h) {
            v = h.getCount();
        } else if (metric instanceof Gauge<?> g && g.getValue() instanceof Number n) {
            v = n.longValue();
        } else {
            return;
        }
        FINAL.merge(key, v, Long::sum);
    }

    /** Registered with {@code metrics.reporter.collect.factory.class}, found through META-INF/services. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new CollectingReporter();
        }
    }
}
