package io.lseq.core.model;

import io.lseq.core.math.Parallel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The batch path: scores whole runs of events (keys x events) at once and leaves each key's
 * state where stepping event by event would, within float rounding. Projections run as batched
 * products over the events' rows, the LRU recurrence as a chunked parallel scan over time,
 * attention and GAU with their queries in parallel; GRU and LSTM, whose recurrence is not
 * linear, step through their events after one batched input product.
 *
 * <p>Keys go in rounds of at most {@link #PIECE} events each, a key's next piece starting from
 * the state its last one left, so the rows in flight stay bounded (2 KB to 7 KB each for the
 * example models) however long a run is. In a round with many keys they are spread over the threads in
 * groups of at most {@link #GROUP_ROWS} rows; a group's keys run through each block together
 * (products over all their rows, GRU and LSTM in lockstep over the keys). A round with few keys
 * splits each over all threads, by rows and by scan chunks. Thread-safe; one instance may serve
 * concurrent calls.
 */
public final class BatchScorer implements BatchBackend {
    private final Model model;
    private final Parallel par;
    /** Forward passes with their grown buffers, reused across groups, rounds and calls. */
    private final ConcurrentLinkedQueue<ForwardPass> passes = new ConcurrentLinkedQueue<>();

    /** @param threads worker threads (1: everything in the caller) */
    public BatchScorer(Model model, int threads) {
        this.model = model;
        this.par = new Parallel(threads);
    }

    /**
     * Scores every sequence and advances its state.
     *
     * @throws IllegalArgumentException before any state changes, if a sequence does not fit the
     *     model (input kind, token range, feature size or values, output size)
     */
    @Override
    public void score(List<Sequence> batch) {
        validate(model, batch);
        int longest = 0;
        for (Sequence s : batch) {
            longest = Math.max(longest, s.length());
        }
        // Rounds of at most PIECE events per key, so that the rows in flight stay bounded however
        // long a key's run is: a key's pieces go in order, each from the state the last one left.
        for (int from = 0; from < longest; from += PIECE) {
            List<Sequence> round = new ArrayList<>(batch.size());
            for (Sequence s : batch) {
                if (s.length() > from) {
                    round.add(s.slice(from, Math.min(s.length(), from + PIECE), model.outputSize()));
                }
            }
            if (round.size() >= 2 * par.threads()) {
                List<List<Sequence>> groups = groups(round);
                par.range(groups.size(), 1, (g0, g1) -> {
                    for (int g = g0; g < g1; g++) {
                        runKeys(groups.get(g));
                    }
                });
            } else {
                for (Sequence s : round) {
                    run(s, par);
                }
            }
            for (int i = 0, j = 0; i < batch.size(); i++) {
                Sequence s = batch.get(i);
                if (s.length() > from) {
                    round.get(j++).copyOutTo(s, from, model.outputSize());
                }
            }
        }
    }

    /** Events per key per round of {@link #score}. */
    static final int PIECE = 4096;
    /** Most rows (events) one thread takes through the blocks at once. */
    static final int GROUP_ROWS = 8192;

    /**
     * Consecutive keys in groups of about {@code min(GROUP_ROWS, rows / (4 threads))} rows, so
     * that every thread has several groups and none holds more than GROUP_ROWS rows (plus one key).
     */
    private List<List<Sequence>> groups(List<Sequence> keys) {
        long rows = 0;
        for (Sequence s : keys) {
            rows += s.length();
        }
        long target = Math.max(1, Math.min(GROUP_ROWS, rows / (4L * par.threads())));
        List<List<Sequence>> groups = new ArrayList<>();
        List<Sequence> group = new ArrayList<>();
        long inGroup = 0;
        for (Sequence s : keys) {
            if (!group.isEmpty() && inGroup + s.length() > target) {
                groups.add(group);
                group = new ArrayList<>();
                inGroup = 0;
            }
            group.add(s);
            inGroup += s.length();
        }
        if (!group.isEmpty()) {
            groups.add(group);
        }
        return groups;
    }

    /** One key's run (not empty) over all threads, by rows and by scan chunks. */
    private void run(Sequence s, Parallel p) {
        ForwardPass pass = take();
        try {
            pass.add(s.state(), s.tokens(), s.features(), 0, s.length(), s.out(), 0);
            pass.run(p);
        } finally {
            release(pass);
        }
    }

    /** Keys together (no run empty) on the calling thread: one pass over all their rows. */
    private void runKeys(List<Sequence> keys) {
        ForwardPass pass = take();
        try {
            for (Sequence s : keys) {
                pass.add(s.state(), s.tokens(), s.features(), 0, s.length(), s.out(), 0);
            }
            pass.run(Parallel.SERIAL);
        } finally {
            release(pass);
        }
    }

    /**
     * A forward pass for one group. Its buffers (several float rows per event of up to
     * {@link #GROUP_ROWS} events) are what a group costs to set up, so passes are kept and
     * reused: at most one per thread that ever ran a group at the same time.
     */
    private ForwardPass take() {
        ForwardPass pass = passes.poll();
        return pass != null ? pass : new ForwardPass(model);
    }

    private void release(ForwardPass pass) {
        pass.clear();
        passes.offer(pass);
    }

    @Override
    public String describe() {
        return "cpu, " + par.threads() + (par.threads() == 1 ? " thread" : " threads");
    }

    /**
     * Checks every sequence ({@link #validate(Model, Sequence)}) and that no two share a state:
     * a key's runs go into one sequence, since a batch may score its sequences in any order.
     *
     * @throws IllegalArgumentException saying which sequence does not fit, or which two share a state
     */
    public static void validate(Model model, List<Sequence> batch) {
        java.util.IdentityHashMap<KeyState, Integer> seen = new java.util.IdentityHashMap<>();
        for (int i = 0; i < batch.size(); i++) {
            Sequence s = batch.get(i);
            validate(model, s);
            Integer before = seen.put(s.state(), i);
            if (before != null) {
                throw new IllegalArgumentException("sequences " + before + " and " + i + " share a state: give a key's "
                        + "events as one sequence");
            }
        }
    }

    /**
     * Checks that {@code s} fits {@code model}: state size, input kind, token range, feature
     * size and values, output size.
     *
     * @throws IllegalArgumentException saying what does not fit
     */
    public static void validate(Model model, Sequence s) {
        var in = model.config().input();
        if (s.state().values().length != model.stateSize()) {
            throw new IllegalArgumentException("state has " + s.state().values().length + " floats, model needs "
                    + model.stateSize());
        }
        if (in.tokens() != (s.tokens() != null) || (s.tokens() != null) == (s.features() != null)) {
            throw new IllegalArgumentException("model " + model.config().name() + " takes "
                    + (in.tokens() ? "tokens" : "features") + ": give exactly that");
        }
        if (s.out() != null && s.out().length < (long) s.length() * model.outputSize()) {
            throw new IllegalArgumentException("out holds " + s.out().length + " floats, " + s.length() + " events need "
                    + (long) s.length() * model.outputSize());
        }
        if (s.tokens() != null) {
            for (int t : s.tokens()) {
                if (t < 0 || t >= in.vocabSize()) {
                    throw new IllegalArgumentException("token " + t + " out of range [0, " + in.vocabSize() + ")");
                }
            }
        } else {
            for (float[] f : s.features()) {
                if (f.length != in.dim()) {
                    throw new IllegalArgumentException("expected " + in.dim() + " features, got " + f.length);
                }
                for (float v : f) {
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException("features must be finite, got " + v);
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        par.close();
    }
}
