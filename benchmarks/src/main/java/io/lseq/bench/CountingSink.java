package io.lseq.bench;

import io.lseq.connectors.event.Score;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * A discarding sink that counts the scores, sums their first values (a checksum: the same
 * events scored on hashmap and on RocksDB must give the same sum), and notes in {@link RunProbe}
 * when the last expected score arrives. It runs chained in the keyed operator's task thread.
 */
final class CountingSink implements Sink<Score> {
    private static final long serialVersionUID = 1L;

    @Override
    public SinkWriter<Score> createWriter(WriterInitContext context) {
        return new Writer(RunProbe.expected);
    }

    private static final class Writer implements SinkWriter<Score> {
        private final long expected;
        private long count;
        private double sum;

        Writer(long expected) {
            this.expected = expected;
        }

        @Override
        public void write(Score s, Context context) {
            if (count == 0) {
                RunProbe.sinkThreadCpuStart = RunProbe.threadCpu();
            }
            sum += s.values()[0];
            if (++count == expected) {
                RunProbe.endNanos = System.nanoTime();
                RunProbe.endProcessCpu = RunProbe.processCpu();
                RunProbe.sinkThreadCpuEnd = RunProbe.threadCpu();
            }
        }

        @Override
        public void flush(boolean endOfInput) {
            if (endOfInput) {
                RunProbe.checksum = sum;
                RunProbe.count = count;
            }
        }

        @Override
        public void close() {}
    }
}
