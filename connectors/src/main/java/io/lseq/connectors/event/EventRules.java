package io.lseq.connectors.event;

/**
 * EVENTS.md's rules for an event's values, once they are read, whatever carried them: a JSON
 * record ({@link EventParser}) or a Flink SQL row. Each check returns why the value is refused,
 * in the words of the dead letters, or null when it is valid.
 */
public final class EventRules {
    private EventRules() {}

    /** Largest key accepted, in UTF-8 bytes. */
    public static final int MAX_KEY_BYTES = 256;

    /** A key: present, valid Unicode, 1 to {@link #MAX_KEY_BYTES} UTF-8 bytes. */
    public static String keyError(String key) {
        if (key == null) {
            return "missing key";
        }
        String bad = unicodeError("key", key);
        if (bad != null) {
            return bad;
        }
        int bytes = utf8Length(key);
        return bytes == 0 || bytes > MAX_KEY_BYTES ? "key is " + bytes + " UTF-8 bytes, must be 1.." + MAX_KEY_BYTES
                : null;
    }

    /**
     * Text with no unpaired surrogate (a JSON escape of a lone UTF-16 unit, which has no UTF-8
     * form); {@code field} names it in the message.
     */
    public static String unicodeError(String field, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return field + " is not valid Unicode (unpaired surrogate \\u" + Integer.toHexString(c) + " at char " + i
                        + ")";
            }
        }
        return null;
    }

    /**
     * Exactly the input the model takes: a token for a token model, features for a feature
     * model, never both.
     */
    public static String inputError(boolean modelTakesTokens, boolean hasToken, boolean hasFeatures) {
        if (hasToken && hasFeatures) {
            return "event has both token and features, needs exactly one";
        }
        if (modelTakesTokens && !hasToken) {
            return hasFeatures ? "model takes tokens, event has features" : "missing token";
        }
        if (!modelTakesTokens && !hasFeatures) {
            return hasToken ? "model takes features, event has a token" : "missing features";
        }
        return null;
    }

    /** A token in {@code [0, vocabSize)}; {@code Long.MAX_VALUE} stands for one beyond a long. */
    public static String tokenError(long token, int vocabSize) {
        return token < 0 || token >= vocabSize
                ? "token " + (token == Long.MAX_VALUE ? "(huge)" : token) + " out of range [0, " + vocabSize + ")"
                : null;
    }

    /** Feature {@code i}, read as {@code d}: finite once rounded to float32. */
    public static String featureError(int i, double d) {
        return Float.isFinite((float) d) ? null : "features[" + i + "] is " + (Double.isNaN(d) ? "NaN"
                : Double.isInfinite(d) ? "infinite" : d + ", beyond float32 range") + "; features must be finite";
    }

    /** As many features as the model's input dimension. */
    public static String featureCountError(int dim, int count) {
        return count == dim ? null : "expected " + dim + " features, got " + count;
    }

    /** UTF-8 length of text with no unpaired surrogate. */
    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
