package io.lseq.cli;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.connectors.json.Json;
import io.lseq.core.format.ModelConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Parses records on worker threads, a chunk of records per task, and hands the events to the
 * caller's {@link Sink} in input order, on the caller's thread; rejected records go to the
 * dead-letter output, also in input order. For commands whose per-event work after parsing is
 * small (the backfill buffers events), one parsing thread would be the bottleneck.
 *
 * <p>At most {@code 2 × threads + 2} chunks are in flight, so memory stays bounded whatever
 * the input's length.
 */
final class ParallelParser implements AutoCloseable {
    /** Receives the parsed events, in input order. */
    interface Sink {
        void accept(Event e) throws Exception;
    }

    /** Records per chunk; a chunk also ends at {@link #CHUNK_BYTES}. */
    static final int CHUNK_RECORDS = 4096;
    static final int CHUNK_BYTES = 1 << 20;

    private final OutputStream deadLetters;
    private final String fileName;
    private final Sink sink;
    private final ExecutorService pool;
    private final ThreadLocal<EventParser> parsers;
    private final ArrayDeque<Future<Chunk>> inFlight = new ArrayDeque<>();
    private final int maxInFlight;
    private Chunk filling = new Chunk();
    private long rejected;

    /**
     * @param fileName the input file, for the dead letters' source (records added with a line
     *     number); null for records that come with their own source
     */
    ParallelParser(ModelConfig.Input input, int threads, OutputStream deadLetters, String fileName, Sink sink) {
        this.deadLetters = deadLetters;
        this.fileName = fileName;
        this.sink = sink;
        this.pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "lseq-parse");
            t.setDaemon(true);
            return t;
        });
        this.parsers = ThreadLocal.withInitial(() -> new EventParser(input));
        this.maxInFlight = 2 * Math.max(1, threads) + 2;
    }

    /**
     * Adds a record: {@code bytes[0..length)}, cut from {@code fullLength} bytes when longer
     * than {@link EventParser#MAX_RECORD_BYTES}.
     *
     * @param key the Kafka record key, or null
     * @param line its line number in the file (when {@code source} is null)
     * @param source where it came from, for its dead letter; null for line {@code line} of the file
     */
    void add(byte[] bytes, int length, long fullLength, String key, long line, String source) throws Exception {
        filling.add(bytes, length, fullLength, key, line, source);
        if (filling.count == CHUNK_RECORDS || filling.used >= CHUNK_BYTES) {
            submit();
        }
    }

    /** Parses what is left and hands it over; returns when every record added has gone to the sink. */
    void finish() throws Exception {
        submit();
        while (!inFlight.isEmpty()) {
            deliver(inFlight.poll());
        }
    }

    /** Records rejected so far. */
    long rejected() {
        return rejected;
    }

    private void submit() throws Exception {
        if (filling.count == 0) {
            return;
        }
        Chunk c = filling;
        filling = new Chunk();
        inFlight.add(pool.submit(() -> c.parse(parsers.get())));
        while (inFlight.size() > maxInFlight || (!inFlight.isEmpty() && inFlight.peek().isDone())) {
            deliver(inFlight.poll());
        }
    }

    private void deliver(Future<Chunk> f) throws Exception {
        Chunk c;
        try {
            c = f.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
        for (int i = 0; i < c.count; i++) {
            if (c.events[i] != null) {
                sink.accept(c.events[i]);
            } else {
                String source = c.sources[i] != null ? c.sources[i] : DeadLetter.fileSource(fileName, c.lines[i]);
                deadLetters.write(Json.deadLetter(DeadLetter.of(c.errors[i], c.data, c.offsets[i], c.lengths[i], source)));
                deadLetters.write('\n');
                rejected++;
            }
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }

    /** Records packed into one array, and once parsed their events or rejection reasons. */
    private static final class Chunk {
        byte[] data = new byte[64 * 1024];
        int used;
        int count;
        int[] offsets = new int[CHUNK_RECORDS];
        int[] lengths = new int[CHUNK_RECORDS];
        long[] fullLengths = new long[CHUNK_RECORDS];
        long[] lines = new long[CHUNK_RECORDS];
        String[] keys = new String[CHUNK_RECORDS];
        String[] sources = new String[CHUNK_RECORDS];
        Event[] events;
        String[] errors;

        void add(byte[] bytes, int length, long fullLength, String key, long line, String source) {
            if (used + length > data.length) {
                data = Arrays.copyOf(data, Math.max(used + length, 2 * data.length));
            }
            System.arraycopy(bytes, 0, data, used, length);
            offsets[count] = used;
            lengths[count] = length;
            fullLengths[count] = fullLength;
            lines[count] = line;
            keys[count] = key;
            sources[count] = source;
            used += length;
            count++;
        }

        Chunk parse(EventParser parser) {
            events = new Event[count];
            errors = new String[count];
            for (int i = 0; i < count; i++) {
                try {
                    events[i] = parser.parse(data, offsets[i], lengths[i], fullLengths[i], keys[i]);
                } catch (InvalidEventException e) {
                    errors[i] = e.getMessage();
                }
            }
            return this;
        }
    }
}
