package io.lseq.core.math;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;

/**
 * Runs index ranges on a fixed set of threads; {@link #SERIAL} runs them in the caller. The
 * batch path splits rows (events) and scan chunks with it.
 */
public final class Parallel implements AutoCloseable {
    /** Everything in the calling thread. */
    public static final Parallel SERIAL = new Parallel(1);

    private final int threads;
    private final ForkJoinPool pool;

    /** @param threads worker threads; 1 runs everything in the caller */
    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
    }

    /** Number of threads. */
    public int threads() {
        return threads;
    }

    /** A body over {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        /** Processes indices {@code [from, to)}. */
        void run(int from, int to);
    }

    /**
     * Whether {@link #range} would run {@code [0, n)} in one part, in the caller. Hot paths then
     * call their body directly: a step creates no lambda.
     */
    public boolean serial(int n, int grain) {
        return pool == null || n / Math.max(1, grain) <= 1;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in parts of at least {@code grain} indices, in
     * parallel, and returns when all are done.
     */
    public void range(int n, int grain, Range body) {
        int parts = pool == null ? 1 : (int) Math.min(threads * 4L, Math.max(1, n / Math.max(1, grain)));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        List<Callable<Void>> tasks = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++) {
            int from = (int) ((long) n * p / parts);
            int to = (int) ((long) n * (p + 1) / parts);
            tasks.add(() -> {
                body.run(from, to);
                return null;
            });
        }
        try {
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(c);
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }
}
