package io.lseq.connectors.file;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Reads newline-separated records as raw bytes without ever holding more than a bounded prefix
 * of a line: a line longer than the limit is reported with its length and first bytes, then
 * skipped, so one giant line cannot exhaust memory. A final line without a newline counts; a
 * trailing {@code \r} is dropped.
 */
public final class JsonLinesReader implements Closeable {
    private final InputStream in;
    private final int limit;
    private final byte[] buf = new byte[64 * 1024];
    private int pos;
    private int end;
    private boolean eof;
    private byte[] line = new byte[4096];
    private int length;
    private long totalLength;
    private long lineNo;

    /**
     * @param limit longest line kept whole, in bytes; longer lines keep {@code limit + 1} bytes
     */
    public JsonLinesReader(InputStream in, int limit) {
        this.in = in;
        this.limit = limit;
    }

    /** Advances to the next line; false at the end of input. */
    public boolean next() throws IOException {
        length = 0;
        totalLength = 0;
        boolean any = false;
        while (true) {
            if (pos == end) {
                if (eof || !fill()) {
                    if (!any) {
                        return false;
                    }
                    break;
                }
            }
            any = true;
            int start = pos;
            while (pos < end && buf[pos] != '\n') {
                pos++;
            }
            append(start, pos - start);
            if (pos < end) {
                pos++; // the newline
                break;
            }
        }
        if (totalLength <= limit && length > 0 && line[length - 1] == '\r') {
            length--;
            totalLength--;
        }
        lineNo++;
        return true;
    }

    private boolean fill() throws IOException {
        int n = in.read(buf);
        if (n <= 0) {
            eof = true;
            pos = end = 0;
            return false;
        }
        pos = 0;
        end = n;
        return true;
    }

    private void append(int from, int n) {
        totalLength += n;
        int room = Math.max(0, Math.min(n, limit + 1 - length));
        if (room == 0) {
            return;
        }
        if (length + room > line.length) {
            line = Arrays.copyOf(line, Math.max(length + room, Math.min(2 * line.length, limit + 1)));
        }
        System.arraycopy(buf, from, line, length, room);
        length += room;
    }

    /** The current line's bytes; valid up to {@link #length()} until the next call. */
    public byte[] bytes() {
        return line;
    }

    /** Bytes of the current line held in {@link #bytes()}: all of it unless {@link #oversized()}. */
    public int length() {
        return length;
    }

    /** The current line's full length in bytes. */
    public long totalLength() {
        return totalLength;
    }

    /** Whether the current line is longer than the limit (then only its first bytes are held). */
    public boolean oversized() {
        return totalLength > limit;
    }

    /** The current line's number, from 1. */
    public long lineNumber() {
        return lineNo;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
