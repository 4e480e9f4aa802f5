package io.lseq.connectors.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonLinesReaderTest {
    private static String text(JsonLinesReader r) {
        return new String(r.bytes(), 0, r.length(), StandardCharsets.UTF_8);
    }

    @Test
    void readsLinesWithNumbersCrlfAndNoFinalNewline() throws IOException {
        JsonLinesReader r = new JsonLinesReader(new ByteArrayInputStream("a\r\n\nccc".getBytes(StandardCharsets.UTF_8)), 100);
        assertTrue(r.next());
        assertEquals("a", text(r));
        assertTrue(r.next());
        assertEquals("", text(r));
        assertTrue(r.next());
        assertEquals("ccc", text(r));
        assertEquals(3, r.lineNumber());
        assertFalse(r.next());
    }

    @Test
    void longLinesAreMeasuredNotHeld() throws IOException {
        // A 50 MB line streamed through a 1 KiB limit: held bytes stay bounded, the length is exact.
        long n = 50_000_000L;
        InputStream gen = new InputStream() {
            long i;

            @Override
            public int read() {
                return i < n ? (i++ == n - 1 ? '\n' : 'x') : i++ == n ? 'y' : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                int k = 0;
                while (k < len) {
                    int c = read();
                    if (c < 0) {
                        break;
                    }
                    b[off + k++] = (byte) c;
                }
                return k == 0 ? -1 : k;
            }
        };
        JsonLinesReader r = new JsonLinesReader(gen, 1024);
        assertTrue(r.next());
        assertTrue(r.oversized());
        assertEquals(n - 1, r.totalLength());
        assertEquals(1025, r.length());
        assertTrue(r.bytes().length <= 4096, "held " + r.bytes().length);
        assertTrue(r.next());
        assertEquals("y", text(r));
        assertFalse(r.oversized());
        assertFalse(r.next());
    }
}
