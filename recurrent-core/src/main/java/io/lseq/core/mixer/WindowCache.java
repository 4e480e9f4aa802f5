package io.lseq.core.mixer;

import io.lseq.core.math.Parallel;
import io.lseq.core.math.Rope;
import io.lseq.core.math.Vec;

/**
 * Causal windowed attention over a ring buffer of the last W keys and values, plus optional
 * attention sinks, shared by the attention and GAU mixers.
 *
 * <p>State layout at {@code off}: {@code keys[W][heads * dk]}, {@code values[W][heads * dv]},
 * then, with S sinks, {@code sinkKeys[S][heads * dk]} (not rotated) and
 * {@code sinkValues[S][heads * dv]}. Position {@code p} lives in slot {@code p mod W}. Keys are stored already rotated by RoPE, so a
 * cached key is never rotated again per step. Only position differences matter to RoPE, so
 * rotation angles are taken relative to an epoch base {@code b = p - (p mod R)}, R = 2^16: a key
 * at position s is stored rotated by {@code s - b}. When a step crosses into a new epoch, every
 * cached key is rotated once by {@code -R}. Angles therefore stay below {@code R + W} radians
 * times the highest frequency, and a key at position 2^40 scores exactly as one at 0.
 *
 * <p>Sinks (StreamingLLM, an lseq extension of the format: {@code "sinks": S}): the first S
 * positions of a key stay visible forever. Once the window has moved past them they are placed
 * just before it, at positions {@code w0-S .. w0-1} for a window starting at {@code w0}, so a
 * sink is always at most {@code W+S-1} positions from the query. Their score is
 * {@code rope(q, d) . k} with the query rotated by that distance d and the key stored unrotated;
 * the distances are constant once the window has moved past the sinks, so their tables are
 * computed once.
 */
final class WindowCache {
    /** Rebase period R: a power of two, so the epoch base is exact in double. */
    static final long REBASE_PERIOD = 1L << 16;

    private final int heads;
    private final int dk;
    private final int dv;
    private final int window;
    private final double lognBase;
    private final Rope rope;
    private final int sinks;
    private final float[] rebaseCos;
    private final float[] rebaseSin;
    /** cos and sin of sink j's constant distance {@code W+S-1-j}, at {@code j * dk/2}. */
    private final float[] sinkCos;
    private final float[] sinkSin;

    /**
     * @param lognBase T0 of log-n scaling, or 0 for none
     * @param sinks S, the number of first positions that stay visible (0 for none)
     */
    WindowCache(int heads, int dk, int dv, int window, double ropeTheta, double lognBase, int sinks) {
        this.heads = heads;
        this.dk = dk;
        this.dv = dv;
        this.window = window;
        this.lognBase = lognBase;
        this.sinks = sinks;
        this.rope = new Rope(dk, ropeTheta);
        int half = dk / 2;
        this.rebaseCos = new float[half];
        this.rebaseSin = new float[half];
        rope.angles(-(double) REBASE_PERIOD, rebaseCos, 0, rebaseSin, 0);
        this.sinkCos = new float[sinks * half];
        this.sinkSin = new float[sinks * half];
        for (int j = 0; j < sinks; j++) {
            rope.angles((double) window + sinks - 1 - j, sinkCos, j * half, sinkSin, j * half);
        }
    }

    int stateSize() {
        return (window + sinks) * heads * (dk + dv);
    }

    /**
     * Scratch floats {@link #attend} needs: scores over the window and sinks, the cos and sin
     * tables, then (with sinks) the unrotated queries, one rotated query head and a sink's table.
     */
    int scratchSize() {
        return window + sinks + dk + (sinks > 0 ? heads * dk + dk + dk : 0);
    }

    /**
     * Stores this position's key and value and writes every head's attention output.
     *
     * @param pos the absolute position of this event in its key's stream
     * @param q {@code heads * dk} queries, not yet rotated; rotated in place
     * @param k {@code heads * dk} keys, not yet rotated; rotated in place
     * @param v {@code heads * dv} values
     * @param out {@code heads * dv} outputs, heads concatenated
     */
    void attend(float[] state, int off, long pos, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                float[] out, int outOff, float[] scratch, int sOff) {
        int kw = heads * dk;
        int vw = heads * dv;
        int keysOff = off;
        int valuesOff = off + window * kw;
        int sinkKeysOff = valuesOff + window * vw;
        int sinkValuesOff = sinkKeysOff + sinks * kw;
        if (pos < sinks) {
            System.arraycopy(k, kOff, state, sinkKeysOff + (int) pos * kw, kw);
            System.arraycopy(v, vOff, state, sinkValuesOff + (int) pos * vw, vw);
        }
        // Sinks the window no longer covers, and how far they are moved forward to sit before it.
        long w0 = Math.max(0, pos - window + 1);
        int outside = (int) Math.min(sinks, w0);
        long shift = Math.max(0, w0 - sinks);
        int half = dk / 2;
        int qRaw = sOff + window + sinks + dk;
        if (outside > 0) {
            System.arraycopy(q, qOff, scratch, qRaw, kw);
        }
        long rel = Math.floorMod(pos, REBASE_PERIOD);
        if (rel == 0 && pos != 0) {
            int cached = (int) Math.min(pos, window);
            for (int i = 1; i <= cached; i++) {
                int slotOff = keysOff + Math.floorMod(pos - i, window) * kw;
                for (int h = 0; h < heads; h++) {
                    rope.rotate(state, slotOff + h * dk, rebaseCos, 0, rebaseSin, 0);
                }
            }
        }
        int cos = sOff + window + sinks;
        int sin = cos + half;
        rope.angles(rel, scratch, cos, scratch, sin);
        for (int h = 0; h < heads; h++) {
            rope.rotate(q, qOff + h * dk, scratch, cos, scratch, sin);
            rope.rotate(k, kOff + h * dk, scratch, cos, scratch, sin);
        }
        int slot = (int) Math.floorMod(pos, window);
        System.arraycopy(k, kOff, state, keysOff + slot * kw, kw);
        System.arraycopy(v, vOff, state, valuesOff + slot * vw, vw);

        int inWindow = (int) Math.min(pos + 1, window);
        query(q, qOff, pos, state, keysOff, state, valuesOff, slot, window, inWindow, outside, shift, state,
                sinkKeysOff, sinkValuesOff, out, outOff, scratch, sOff);
    }

    /**
     * One query's attention: {@code q} rotated for its position, its raw copy at the scratch's
     * raw-query region when sinks are outside the window; the {@code inWindow} newest keys and
     * values walked back from row {@code slot} of a ring of {@code rows} rows ({@code keys} at
     * {@code keysOff}, {@code values} at {@code valuesOff}); then {@code outside} sinks from
     * {@code state}, moved forward by {@code shift}.
     */
    private void query(float[] q, int qOff, long pos, float[] keys, int keysOff, float[] values, int valuesOff,
            int slot, int rows, int inWindow, int outside, long shift, float[] state, int sinkKeysOff, int sinkValuesOff,
            float[] out, int outOff, float[] scratch, int sOff) {
        int kw = heads * dk;
        int vw = heads * dv;
        int half = dk / 2;
        int qRaw = sOff + window + sinks + dk;
        int qRot = qRaw + kw;
        int tab = qRot + dk;
        int scores = sOff;
        int n = inWindow + outside;
        double scale = 1.0 / Math.sqrt(dk);
        if (lognBase > 0) {
            scale *= Math.max(1.0, Math.log(n) / Math.log(lognBase));
        }
        float fscale = (float) scale;
        for (int h = 0; h < heads; h++) {
            // Visible positions pos, pos-1, ..., pos-n+1, newest first.
            int s = slot;
            for (int i = 0; i < inWindow; i++) {
                scratch[scores + i] = fscale * Vec.dot(q, qOff + h * dk, keys, keysOff + s * kw + h * dk, dk);
                s = s == 0 ? rows - 1 : s - 1;
            }
            for (int j = 0; j < outside; j++) {
                float[] c = sinkCos;
                float[] sn = sinkSin;
                int t = j * half;
                if (shift == 0) { // still next to the window: the distance grows with pos
                    c = scratch;
                    sn = scratch;
                    t = tab;
                    rope.angles((double) (pos - j), scratch, tab, scratch, tab + half);
                }
                System.arraycopy(scratch, qRaw + h * dk, scratch, qRot, dk);
                rope.rotate(scratch, qRot, c, t, sn, shift == 0 ? t + half : t);
                scratch[scores + inWindow + j] =
                        fscale * Vec.dot(scratch, qRot, state, sinkKeysOff + j * kw + h * dk, dk);
            }
            Vec.softmax(scratch, scores, n);
            int o = outOff + h * dv;
            Vec.ringWeightedSum(scratch, scores, inWindow, values, valuesOff + h * dv, vw, slot, rows, out, o, dv);
            for (int j = 0; j < outside; j++) {
                accumulate(scratch[scores + inWindow + j], state, sinkValuesOff + j * vw + h * dv, out, o);
            }
        }
    }

    /**
     * {@link #attend} for a run of events at positions {@code pos0, pos0+1, ...}, its queries in
     * parallel: row t of {@code q} (at {@code qOff}), {@code k}, {@code v} and {@code out}, for t in
     * {@code [from, to)}. The run's keys go into a linear copy of the window, all rotated relative
     * to the epoch base of {@code pos0}, with the keys cached before the run in front; each query
     * reads the W newest rows at and before its own; the ring then takes the last W keys, rotated
     * relative to the epoch base of the run's last position. Equal to {@link #attend} event by
     * event within float rounding. q and k rows are rotated in place.
     */
    void attendRun(float[] state, int off, long pos0, float[][] q, int qOff, float[][] k, int kOff, float[][] v,
            int vOff, float[][] out, int outOff, int from, int to, Parallel par) {
        int len = to - from;
        if (len <= 0) {
            return;
        }
        int kw = heads * dk;
        int vw = heads * dv;
        int half = dk / 2;
        int keysOff = off;
        int valuesOff = off + window * kw;
        int sinkKeysOff = valuesOff + window * vw;
        int sinkValuesOff = sinkKeysOff + sinks * kw;
        long base = pos0 - Math.floorMod(pos0, REBASE_PERIOD);
        int prior = (int) Math.min(pos0, window - 1);
        int rows = prior + len;
        float[] keys = new float[rows * kw];
        float[] values = new float[rows * vw];
        // The cached keys are relative to the epoch base of pos0 - 1: one rebase if pos0 opens an epoch.
        boolean rebase = Math.floorMod(pos0, REBASE_PERIOD) == 0 && pos0 != 0;
        for (int i = 0; i < prior; i++) {
            int slot = (int) Math.floorMod(pos0 - prior + i, window);
            System.arraycopy(state, keysOff + slot * kw, keys, i * kw, kw);
            System.arraycopy(state, valuesOff + slot * vw, values, i * vw, vw);
            if (rebase) {
                for (int h = 0; h < heads; h++) {
                    rope.rotate(keys, i * kw + h * dk, rebaseCos, 0, rebaseSin, 0);
                }
            }
        }
        float[][] raw = sinks > 0 ? new float[len][kw] : null;
        for (int t = 0; t < len; t++) {
            long p = pos0 + t;
            if (p < sinks) {
                System.arraycopy(k[from + t], kOff, state, sinkKeysOff + (int) p * kw, kw);
                System.arraycopy(v[from + t], vOff, state, sinkValuesOff + (int) p * vw, vw);
            }
            if (raw != null) {
                System.arraycopy(q[from + t], qOff, raw[t], 0, kw);
            }
        }
        par.range(len, RUN_ROWS, (a, b) -> {
            float[] cos = new float[half];
            float[] sin = new float[half];
            for (int t = a; t < b; t++) {
                rope.angles((double) (pos0 + t - base), cos, 0, sin, 0);
                for (int h = 0; h < heads; h++) {
                    rope.rotate(q[from + t], qOff + h * dk, cos, 0, sin, 0);
                    rope.rotate(k[from + t], kOff + h * dk, cos, 0, sin, 0);
                }
                System.arraycopy(k[from + t], kOff, keys, (prior + t) * kw, kw);
                System.arraycopy(v[from + t], vOff, values, (prior + t) * vw, vw);
            }
        });
        par.range(len, RUN_ROWS, (a, b) -> {
            float[] scratch = new float[scratchSize()];
            int qRaw = window + sinks + dk;
            for (int t = a; t < b; t++) {
                long p = pos0 + t;
                long w0 = Math.max(0, p - window + 1);
                int outside = (int) Math.min(sinks, w0);
                long shift = Math.max(0, w0 - sinks);
                if (outside > 0) {
                    System.arraycopy(raw[t], 0, scratch, qRaw, kw);
                }
                int inWindow = (int) Math.min(p + 1, window);
                query(q[from + t], qOff, p, keys, 0, values, 0, prior + t, rows, inWindow, outside, shift, state,
                        sinkKeysOff, sinkValuesOff, out[from + t], outOff, scratch, 0);
            }
        });
        long last = pos0 + len - 1;
        long lastBase = last - Math.floorMod(last, REBASE_PERIOD);
        float[] cos = new float[half];
        float[] sin = new float[half];
        rope.angles(-(double) (lastBase - base), cos, 0, sin, 0);
        for (long ps = Math.max(0, last - window + 1); ps <= last; ps++) {
            int i = (int) (ps - (pos0 - prior));
            int slot = (int) Math.floorMod(ps, window);
            System.arraycopy(keys, i * kw, state, keysOff + slot * kw, kw);
            System.arraycopy(values, i * vw, state, valuesOff + slot * vw, vw);
            if (lastBase != base) {
                for (int h = 0; h < heads; h++) {
                    rope.rotate(state, keysOff + slot * kw + h * dk, cos, 0, sin, 0);
                }
            }
        }
    }

    /**
     * Attends every run of {@code runs}, row t's query, key and value at {@code q[t][qOff..]},
     * {@code k[t][kOff..]}, {@code v[t][vOff..]}, its output into {@code out[t][outOff..]}: a run
     * of one event as {@link #attend}, a longer one with its queries in parallel
     * ({@link #attendRun}, in pieces of {@link #RUN_CHUNK} events).
     *
     * @param scratch at least {@link #scratchSize()} floats
     */
    void attendRuns(Runs runs, int off, float[][] q, int qOff, float[][] k, int kOff, float[][] v, int vOff,
            float[][] out, int outOff, float[] scratch, Parallel par) {
        for (int key = 0; key < runs.keys(); key++) {
            float[] state = runs.state(key);
            int from = runs.start(key);
            long pos0 = runs.firstPosition(key);
            if (runs.length(key) == 1) {
                attend(state, off, pos0, q[from], qOff, k[from], kOff, v[from], vOff, out[from], outOff, scratch, 0);
                continue;
            }
            for (int t0 = from; t0 < runs.end(key); t0 += RUN_CHUNK) {
                int t1 = Math.min(runs.end(key), t0 + RUN_CHUNK);
                attendRun(state, off, pos0 + (t0 - from), q, qOff, k, kOff, v, vOff, out, outOff, t0, t1, par);
            }
        }
    }

    /** Events per {@link #attendRun} call: bounds the linear copy of the window. */
    static final int RUN_CHUNK = 4096;

    /** Queries per task of {@link #attendRun}. */
    private static final int RUN_ROWS = 64;

    /** {@code out[o..o+dv) += p * state[vr..vr+dv)}. */
    private void accumulate(float p, float[] state, int vr, float[] out, int o) {
        Vec.axpy(p, state, vr, out, o, dv);
    }
}
