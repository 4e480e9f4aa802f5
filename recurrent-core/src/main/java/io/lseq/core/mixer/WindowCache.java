package io.lseq.core.mixer;

import io.lseq.core.math.Rope;
import io.lseq.core.math.Vec;

/**
 * Causal windowed attention over a ring buffer of the last W keys and values, shared by the
 * attention and GAU mixers.
 *
 * <p>State layout at {@code off}: {@code keys[W][heads * dk]}, then {@code values[W][heads * dv]}.
 * Position {@code p} lives in slot {@code p mod W}. Keys are stored already rotated by RoPE, so a
 * cached key is never rotated again per step. Only position differences matter to RoPE, so
 * rotation angles are taken relative to an epoch base {@code b = p - (p mod R)}, R = 2^16: a key
 * at position s is stored rotated by {@code s - b}. When a step crosses into a new epoch, every
 * cached key is rotated once by {@code -R}. Angles therefore stay below {@code R + W} radians
 * times the highest frequency, and a key at position 2^40 scores exactly as one at 0.
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
    private final float[] rebaseCos;
    private final float[] rebaseSin;

    /**
     * @param lognBase T0 of log-n scaling, or 0 for none
     */
    WindowCache(int heads, int dk, int dv, int window, double ropeTheta, double lognBase) {
        this.heads = heads;
        this.dk = dk;
        this.dv = dv;
        this.window = window;
        this.lognBase = lognBase;
        this.rope = new Rope(dk, ropeTheta);
        this.rebaseCos = new float[dk / 2];
        this.rebaseSin = new float[dk / 2];
        rope.angles(-(double) REBASE_PERIOD, rebaseCos, 0, rebaseSin, 0);
    }

    int stateSize() {
        return window * heads * (dk + dv);
    }

    /** Scratch floats {@link #attend} needs: scores over the window, then the cos and sin tables. */
    int scratchSize() {
        return window + dk;
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
        int scores = sOff;
        int cos = sOff + window;
        int sin = cos + dk / 2;
        rope.angles(rel, scratch, cos, scratch, sin);
        for (int h = 0; h < heads; h++) {
            rope.rotate(q, qOff + h * dk, scratch, cos, scratch, sin);
            rope.rotate(k, kOff + h * dk, scratch, cos, scratch, sin);
        }
        int slot = (int) Math.floorMod(pos, window);
        System.arraycopy(k, kOff, state, keysOff + slot * kw, kw);
        System.arraycopy(v, vOff, state, valuesOff + slot * vw, vw);

        int n = (int) Math.min(pos + 1, window);
        double scale = 1.0 / Math.sqrt(dk);
        if (lognBase > 0) {
            scale *= Math.max(1.0, Math.log(n) / Math.log(lognBase));
        }
        float fscale = (float) scale;
        for (int h = 0; h < heads; h++) {
            // Visible positions pos, pos-1, ..., pos-n+1, newest first.
            int s = slot;
            for (int i = 0; i < n; i++) {
                scratch[scores + i] = fscale * Vec.dot(q, qOff + h * dk, state, keysOff + s * kw + h * dk, dk);
                s = s == 0 ? window - 1 : s - 1;
            }
            Vec.softmax(scratch, scores, n);
            int o = outOff + h * dv;
            for (int j = 0; j < dv; j++) {
                out[o + j] = 0f;
            }
            s = slot;
            for (int i = 0; i < n; i++) {
                float p = scratch[scores + i];
                int vr = valuesOff + s * vw + h * dv;
                for (int j = 0; j < dv; j++) {
                    out[o + j] += p * state[vr + j];
                }
                s = s == 0 ? window - 1 : s - 1;
            }
        }
    }
}
