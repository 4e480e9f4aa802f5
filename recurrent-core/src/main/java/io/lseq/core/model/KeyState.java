package io.lseq.core.model;

/**
 * One key's recurrent state: a flat {@code float[]} whose layout {@link Model#layout()} describes,
 * plus the position of the next event in the key's stream (BOS, when the model has one, took
 * position 0). Its size depends only on the model, never on how many events the key has seen.
 *
 * <p>Not thread-safe; a state belongs to one key and is stepped by one thread at a time.
 */
public final class KeyState {
    private final float[] values;
    private long position;

    /**
     * Wraps existing state, for example one restored from a checkpoint.
     *
     * @param values the flat state, {@link Model#stateSize()} floats
     * @param position the position of the next event
     */
    public KeyState(float[] values, long position) {
        if (position < 0) {
            throw new IllegalArgumentException("position must be non-negative, got " + position);
        }
        this.values = values;
        this.position = position;
    }

    /** The flat state; stepping updates it in place. */
    public float[] values() {
        return values;
    }

    /** The position the next event will take. */
    public long position() {
        return position;
    }

    void advance() {
        position++;
    }

    /** Moves the position on by {@code events}: for batch backends that advance the values themselves. */
    public void advance(long events) {
        position += events;
    }

    /** A deep copy. */
    public KeyState copy() {
        return new KeyState(values.clone(), position);
    }
}
