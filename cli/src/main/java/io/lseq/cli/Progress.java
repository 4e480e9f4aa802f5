package io.lseq.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of long work. On a terminal it redraws one line, a bar with rate and ETA when the
 * total is known; elsewhere (a log, CI) it prints a plain line every {@code logEvery} seconds.
 * Callers report cheaply on every item; it only looks at the clock every 4096 of them.
 */
public final class Progress {
    private final PrintStream out;
    private final String unit;
    private final boolean terminal;
    private final long logEveryNanos;
    private final long start = System.nanoTime();
    private long lastPrint = start;
    private long items;
    private boolean drawn;

    /**
     * @param unit what is counted, e.g. "events"
     * @param terminal whether {@code out} is a terminal (draw a bar) or a log (print lines)
     */
    public Progress(PrintStream out, String unit, boolean terminal, double logEverySeconds) {
        this.out = out;
        this.unit = unit;
        this.terminal = terminal;
        this.logEveryNanos = (long) (logEverySeconds * 1e9);
    }

    /** Whether standard error is a terminal (the JVM's own test, via its console). */
    public static boolean stderrIsTerminal() {
        return System.console() != null && System.getenv("CI") == null;
    }

    /**
     * Counts one item; {@code done} and {@code total} measure how far along the input is (bytes
     * read of a file, say), total 0 when unknown.
     */
    public void step(long done, long total) {
        items++;
        if ((items & 4095) != 0) {
            return;
        }
        long now = System.nanoTime();
        long every = terminal ? 200_000_000L : logEveryNanos;
        if (now - lastPrint >= every) {
            lastPrint = now;
            print(now, done, total);
        }
    }

    /** Items counted so far. */
    public long items() {
        return items;
    }

    /** Seconds since start. */
    public double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Clears the bar, if one is drawn, so that a summary line can follow. */
    public void finish() {
        if (drawn) {
            out.print("\r\033[K");
            out.flush();
        }
    }

    private void print(long now, long done, long total) {
        double secs = (now - start) / 1e9;
        double rate = items / Math.max(secs, 1e-9);
        String counts = String.format(Locale.ROOT, "%,d %s  %s %s/s", items, unit, human(rate), unit);
        if (total > 0) {
            double frac = Math.min(1.0, (double) done / total);
            String eta = frac > 0 ? clock(secs * (1 - frac) / frac) : "?";
            if (terminal) {
                int width = 30;
                int filled = (int) (frac * width);
                out.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] "
                        + String.format(Locale.ROOT, "%3.0f%%  ", 100 * frac) + counts + "  ETA " + eta + "\033[K");
                drawn = true;
            } else {
                out.println(String.format(Locale.ROOT, "progress %.1f%%  ", 100 * frac) + counts + "  ETA " + eta);
            }
        } else if (terminal) {
            out.print("\r" + counts + "\033[K");
            drawn = true;
        } else {
            out.println("progress " + counts);
        }
        out.flush();
    }

    private static String human(double v) {
        if (v >= 1e6) {
            return String.format(Locale.ROOT, "%.2fM", v / 1e6);
        }
        if (v >= 1e3) {
            return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        }
        return String.format(Locale.ROOT, "%.0f", v);
    }

    private static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
