package io.lseq.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * Timestamps and CPU times of one {@link StreamBench} run, written by the source and the sink
 * from their task threads. The MiniCluster runs in the benchmark's own JVM and its tasks load
 * these classes from the same class loader, so static fields reach {@code main}.
 */
final class RunProbe {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Records the sink must see before the run counts as complete. */
    static volatile long expected;

    /** When the source generated its first record: wall clock, process CPU, source thread CPU. */
    static volatile long startNanos;
    static volatile long startProcessCpu;
    static volatile long sourceThreadCpuStart;
    /** When the source generated its last record. */
    static volatile long sourceEndNanos;
    static volatile long sourceThreadCpuEnd;

    /** When the sink saw its first record (keyed task thread CPU then). */
    static volatile long sinkThreadCpuStart;
    /** When the sink saw the last expected record: wall clock, process CPU, keyed task thread CPU. */
    static volatile long endNanos;
    static volatile long endProcessCpu;
    static volatile long sinkThreadCpuEnd;

    /** What the sink saw in all, at end of input. */
    static volatile long count = -1;
    static volatile double checksum;

    private RunProbe() {}

    static void reset(long expectedRecords) {
        expected = expectedRecords;
        startNanos = startProcessCpu = sourceThreadCpuStart = sourceEndNanos = sourceThreadCpuEnd = 0;
        sinkThreadCpuStart = endNanos = endProcessCpu = sinkThreadCpuEnd = 0;
        count = -1;
        checksum = 0;
    }

    /** CPU time of the whole process (all threads), ns. */
    static long processCpu() {
        return OS.getProcessCpuTime();
    }

    /** CPU time of the calling thread, ns. */
    static long threadCpu() {
        return THREADS.getCurrentThreadCpuTime();
    }
}
