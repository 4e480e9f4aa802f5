package io.lseq.flink.backfill;

import io.lseq.connectors.event.Event;
import io.lseq.core.model.BatchBackend;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Sequence;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Computes every key's state from its history with the batch path. Events are buffered up to a
 * window, then each key's buffered run is scored in one batch from the state the previous window
 * left, so memory holds the keys' states plus two windows of events, whatever the history's
 * length.
 *
 * <p>A window's batch runs on a background thread while the caller reads and parses the next
 * one; the next window's batch waits for it, since it starts from the states it leaves. Only the
 * states are computed: the batch path skips the per-event outputs ({@link Sequence}'s null
 * {@code out}).
 */
public final class Backfill implements AutoCloseable {
    private final Model model;
    private final BatchBackend batch;
    private final int window;
    private final boolean tokenInput;
    /** Every key seen, in order of first appearance (which fixes the savepoint's bytes). */
    private final Map<String, Key> keys = new LinkedHashMap<>();
    /** Keys with buffered events, in order of their first buffered event. */
    private final List<Key> touched = new ArrayList<>();
    private final ExecutorService scorer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "lseq-backfill-batch");
        t.setDaemon(true);
        return t;
    });
    private Future<?> inFlight;
    private int pending;
    private long events;
    private volatile long scoringNanos;

    /** A key's state and its buffered run (a growing array reused from window to window). */
    private static final class Key {
        final KeyState state;
        int[] tokens;
        float[][] features;
        int n;

        Key(KeyState state, boolean tokenInput) {
            this.state = state;
            if (tokenInput) {
                tokens = new int[4];
            } else {
                features = new float[4][];
            }
        }
    }

    /**
     * @param batch the batch path (CPU or GPU); closed with this
     * @param window events buffered before a batch runs
     */
    public Backfill(Model model, BatchBackend batch, int window) {
        this.model = model;
        this.batch = batch;
        this.window = window;
        this.tokenInput = model.config().input().tokens();
    }

    /** Adds the next event of its key's history (its token or features, whichever the model takes). */
    public void add(Event e) throws InterruptedException, ExecutionException {
        Key k = keys.get(e.key());
        if (k == null) {
            k = new Key(model.newState(), tokenInput);
            keys.put(e.key(), k);
        }
        if (k.n == 0) {
            touched.add(k);
        }
        if (tokenInput) {
            if (k.n == k.tokens.length) {
                k.tokens = Arrays.copyOf(k.tokens, 2 * k.n);
            }
            k.tokens[k.n++] = e.token();
        } else {
            if (k.n == k.features.length) {
                k.features = Arrays.copyOf(k.features, 2 * k.n);
            }
            k.features[k.n++] = e.features();
        }
        if (++pending >= window) {
            flush();
        }
    }

    /**
     * Starts the batch of what is buffered, after the one in flight has finished; returns without
     * waiting for it ({@link #finish} does).
     */
    public void flush() throws InterruptedException, ExecutionException {
        if (pending == 0) {
            return;
        }
        List<Sequence> seqs = new ArrayList<>(touched.size());
        for (Key k : touched) {
            seqs.add(tokenInput ? new Sequence(k.state, Arrays.copyOf(k.tokens, k.n), null, null)
                    : new Sequence(k.state, null, Arrays.copyOf(k.features, k.n), null));
            if (!tokenInput) {
                Arrays.fill(k.features, 0, k.n, null);
            }
            k.n = 0;
            if (k.tokens != null && k.tokens.length > MAX_KEPT) {
                k.tokens = new int[4];
            } else if (k.features != null && k.features.length > MAX_KEPT) {
                k.features = new float[4][];
            }
        }
        touched.clear();
        events += pending;
        pending = 0;
        await();
        inFlight = scorer.submit(() -> {
            long t0 = System.nanoTime();
            batch.score(seqs);
            scoringNanos += System.nanoTime() - t0;
        });
    }

    /** A key's buffer beyond this many events is dropped after its window, not kept for the next. */
    private static final int MAX_KEPT = 4096;

    /** Scores what is buffered and waits until every key's state includes it. */
    public void finish() throws InterruptedException, ExecutionException {
        flush();
        await();
    }

    private void await() throws InterruptedException, ExecutionException {
        if (inFlight != null) {
            Future<?> f = inFlight;
            inFlight = null;
            f.get();
        }
    }

    /** Events handed to the batch path so far (buffered ones not included). */
    public long events() {
        return events;
    }

    /** Seconds the batch path has run so far. */
    public double scoringSeconds() {
        return scoringNanos / 1e9;
    }

    /**
     * Every key's state, in order of first appearance: complete after {@link #finish}. A view,
     * not a copy.
     */
    public Map<String, KeyState> states() {
        return new AbstractMap<>() {
            @Override
            public Set<Entry<String, KeyState>> entrySet() {
                return new AbstractSet<>() {
                    @Override
                    public Iterator<Entry<String, KeyState>> iterator() {
                        Iterator<Entry<String, Key>> it = keys.entrySet().iterator();
                        return new Iterator<>() {
                            @Override
                            public boolean hasNext() {
                                return it.hasNext();
                            }

                            @Override
                            public Entry<String, KeyState> next() {
                                Entry<String, Key> e = it.next();
                                return new SimpleImmutableEntry<>(e.getKey(), e.getValue().state);
                            }
                        };
                    }

                    @Override
                    public int size() {
                        return keys.size();
                    }
                };
            }

            @Override
            public KeyState get(Object key) {
                Key k = keys.get(key);
                return k == null ? null : k.state;
            }
        };
    }

    /**
     * Forgets every key once {@link #finish} has completed them, so that a caller that hands the
     * states on (the cluster backfill, key group by key group) holds only the keys since. A key
     * added again afterwards starts from a fresh state.
     *
     * @throws IllegalStateException if events are buffered or a batch is in flight
     */
    public void forgetKeys() {
        if (pending != 0 || inFlight != null) {
            throw new IllegalStateException("forgetKeys() before finish()");
        }
        keys.clear();
    }

    @Override
    public void close() {
        scorer.shutdownNow();
        batch.close();
    }
}
