package io.lseq.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.CliRunner;
import io.lseq.core.testing.TestModels;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code lseq score}'s memory grows with keys, not events: 600k events over 100 keys, generated
 * on the fly, with the live heap measured after a full GC at 100k and at 600k events.
 */
class ScoreMemoryTest {
    static final int KEYS = 100;
    static final long EVENTS = 600_000;

    @Test
    void heapIsFlatInTheNumberOfEvents() throws Exception {
        Path model = TestModels.repoRoot().resolve("recurrent-core/src/test/resources/golden/lru_next_token_bos");
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        List<Long> samples = new ArrayList<>();
        InputStream events = new InputStream() {
            long i;
            byte[] line = new byte[0];
            int pos;

            @Override
            public int read() {
                if (pos == line.length) {
                    if (i == EVENTS) {
                        return -1;
                    }
                    if (i == 100_000 || i == EVENTS - 1) {
                        System.gc();
                        samples.add(mem.getHeapMemoryUsage().getUsed());
                    }
                    line = ("{\"key\":\"k" + (i % KEYS) + "\",\"token\":" + (i * 7 % 64) + "}\n")
                            .getBytes(StandardCharsets.US_ASCII);
                    pos = 0;
                    i++;
                }
                return line[pos++];
            }

            @Override
            public int read(byte[] b, int off, int len) {
                int n = 0;
                while (n < len) {
                    int c = read();
                    if (c < 0) {
                        return n == 0 ? -1 : n;
                    }
                    b[off + n++] = (byte) c;
                }
                return n;
            }
        };
        InputStream oldIn = System.in;
        try {
            System.setIn(events);
            CliRunner.Result r = CliRunner.run("score", "--model", model.toString(), "--input", "-", "--output",
                    "/dev/null", "--dead-letter", "/dev/null");
            assertEquals(0, r.status(), r.err());
            assertTrue(r.err().contains("600,000 events scored") && r.err().contains("100 keys"), r.err());
        } finally {
            System.setIn(oldIn);
        }
        assertEquals(2, samples.size());
        long growth = samples.get(1) - samples.get(0);
        // Retaining anything per event (a score, a string) would be tens of MB over 500k events.
        assertTrue(growth < 8L << 20, "live heap grew " + growth / 1024 + " KiB from 100k to 600k events");
    }
}
