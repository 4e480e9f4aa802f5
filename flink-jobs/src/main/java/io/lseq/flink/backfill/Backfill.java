package io.lseq.flink.backfill;

import io.lseq.connectors.event.Event;
import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Computes every key's state from its history with the batch path. Events are buffered up to a
 * window, then each key's buffered run is scored in one batch from the state the previous window
 * left, so memory holds the keys' states plus one window of events, whatever the history's length.
 */
public final class Backfill implements AutoCloseable {
    private final Model model;
    private final BatchBackend batch;
    private final int window;
    private final Map<String, KeyState> states = new LinkedHashMap<>();
    private final Map<String, List<Event>> buffered = new LinkedHashMap<>();
    private int pending;
    private long events;

    /**
     * @param batch the batch path (CPU or GPU); closed with this
     * @param window events buffered before a batch runs
     */
    public Backfill(Model model, BatchBackend batch, int window) {
        this.model = model;
        this.batch = batch;
        this.window = window;
    }

    /** Adds the next event of its key's history. */
    public void add(Event e) {
        buffered.computeIfAbsent(e.key(), k -> new ArrayList<>()).add(e);
        if (++pending >= window) {
            flush();
        }
    }

    /** Scores what is buffered, advancing the keys' states. */
    public void flush() {
        if (pending == 0) {
            return;
        }
        boolean tokens = model.config().input().tokens();
        List<Sequence> seqs = new ArrayList<>(buffered.size());
        for (Map.Entry<String, List<Event>> e : buffered.entrySet()) {
            List<Event> run = e.getValue();
            KeyState st = states.computeIfAbsent(e.getKey(), k -> model.newState());
            float[] out = new float[run.size() * model.outputSize()];
            if (tokens) {
                int[] t = new int[run.size()];
                for (int i = 0; i < t.length; i++) {
                    t[i] = run.get(i).token();
                }
                seqs.add(new Sequence(st, t, null, out));
            } else {
                float[][] f = new float[run.size()][];
                for (int i = 0; i < f.length; i++) {
                    f[i] = run.get(i).features();
                }
                seqs.add(new Sequence(st, null, f, out));
            }
        }
        batch.score(seqs);
        events += pending;
        buffered.clear();
        pending = 0;
    }

    /** Events scored so far (buffered ones not included). */
    public long events() {
        return events;
    }

    /** Every key's state after the events scored so far. */
    public Map<String, KeyState> states() {
        return states;
    }

    @Override
    public void close() {
        batch.close();
    }
}
