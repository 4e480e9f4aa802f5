package io.lseq.connectors.file;

import io.lseq.connectors.RawRecord;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.DeadLetter;
import java.io.IOException;
import java.util.Arrays;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.reader.SimpleStreamFormat;
import org.apache.flink.connector.file.src.reader.StreamFormat;
import org.apache.flink.core.fs.FSDataInputStream;

/**
 * Reads a JSON Lines file as raw records numbered by line, for Flink's {@code FileSource}. The
 * file is read whole by one reader (not split), so line numbers are exact; on recovery Flink
 * skips the lines already read, which advances the count as well.
 */
public final class JsonLinesFormat extends SimpleStreamFormat<RawRecord> {
    private static final long serialVersionUID = 1L;

    private final String name;

    /** @param name the file's name in dead letters' {@code source} ({@code name:line}) */
    public JsonLinesFormat(String name) {
        this.name = name;
    }

    @Override
    public StreamFormat.Reader<RawRecord> createReader(Configuration config, FSDataInputStream stream) {
        JsonLinesReader lines = new JsonLinesReader(stream, EventParser.MAX_RECORD_BYTES);
        return new StreamFormat.Reader<>() {
            @Override
            public RawRecord read() throws IOException {
                if (!lines.next()) {
                    return null;
                }
                int keep = lines.oversized() ? Math.min(lines.length(), DeadLetter.MAX_RAW_BYTES + 4) : lines.length();
                return new RawRecord(Arrays.copyOf(lines.bytes(), keep), lines.totalLength(), null,
                        DeadLetter.fileSource(name, lines.lineNumber()));
            }

            @Override
            public void close() throws IOException {
                lines.close();
            }
        };
    }

    @Override
    public TypeInformation<RawRecord> getProducedType() {
        return TypeInformation.of(RawRecord.class);
    }
}
