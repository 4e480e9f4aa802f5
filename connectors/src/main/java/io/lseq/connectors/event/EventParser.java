package io.lseq.connectors.event;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import io.lseq.core.format.ModelConfig;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * Parses and validates one record against EVENTS.md and the model's input. A record that fails
 * any check raises {@link InvalidEventException} with the reason, and never reaches a key's state.
 * Thread-safe.
 */
public final class EventParser {
    /** Largest record accepted, in bytes. */
    public static final int MAX_RECORD_BYTES = 1 << 20;
    /** Largest key accepted, in UTF-8 bytes. */
    public static final int MAX_KEY_BYTES = EventRules.MAX_KEY_BYTES;

    private static final JsonFactory JSON = JsonFactory.builder()
            // NaN and Infinity are read so that they can be rejected by name, not as "bad JSON".
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build();
    /** Eight record bytes at a time, the first in the low bits, for the ASCII fast path of {@link #badUtf8}. */
    private static final VarHandle WORD = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int KEY = 1, TS = 2, ID = 4, TOKEN = 8, FEATURES = 16;

    private final boolean tokens;
    private final int vocabSize;
    private final int dim;

    /** A parser for events of a model with this input. */
    public EventParser(ModelConfig.Input input) {
        this.tokens = input.tokens();
        this.vocabSize = input.vocabSize();
        this.dim = input.dim();
    }

    /** Parses a record of UTF-8 text; {@code fallbackKey} (a Kafka record key) is used when it has no key. */
    public Event parse(byte[] record, String fallbackKey) throws InvalidEventException {
        return parse(record, 0, record.length, fallbackKey);
    }

    /** As {@link #parse(byte[], String)}, for {@code record[off..off+len)}. */
    public Event parse(byte[] record, int off, int len, String fallbackKey) throws InvalidEventException {
        if (len > MAX_RECORD_BYTES) {
            throw tooLarge(len);
        }
        // Jackson passes some malformed UTF-8 (overlong forms, encoded surrogates) as characters.
        int bad = badUtf8(record, off, len);
        if (bad >= 0) {
            throw new InvalidEventException("not valid UTF-8 (byte 0x" + Integer.toHexString(record[off + bad] & 0xff)
                    + " at offset " + bad + ")");
        }
        try (JsonParser p = JSON.createParser(record, off, len)) {
            return read(p, fallbackKey);
        } catch (JsonParseException ex) {
            throw new InvalidEventException("not valid JSON: " + shorten(ex.getOriginalMessage()));
        } catch (IOException ex) {
            throw new InvalidEventException("cannot read record: " + ex.getMessage());
        }
    }

    /**
     * As {@link #parse(byte[], int, int, String)}, for a record that had {@code fullLength} bytes
     * before its reader kept only the first {@code len} (readers cut records over the limit): one
     * over {@link #MAX_RECORD_BYTES} is refused on its full length.
     */
    public Event parse(byte[] record, int off, int len, long fullLength, String fallbackKey) throws InvalidEventException {
        if (fullLength > MAX_RECORD_BYTES) {
            throw tooLarge(fullLength);
        }
        return parse(record, off, len, fallbackKey);
    }

    /** The rejection of a record of {@code bytes} bytes, over {@link #MAX_RECORD_BYTES}. */
    private static InvalidEventException tooLarge(long bytes) {
        return new InvalidEventException("record is " + bytes + " bytes, over the 1 MiB (" + MAX_RECORD_BYTES
                + "-byte) limit");
    }

    /** Parses a record given as text. */
    public Event parse(String record, String fallbackKey) throws InvalidEventException {
        return parse(record.getBytes(StandardCharsets.UTF_8), fallbackKey);
    }

    private Event read(JsonParser p, String fallbackKey) throws IOException, InvalidEventException {
        JsonToken first = p.nextToken();
        if (first == null) {
            throw new InvalidEventException("empty record");
        }
        if (first != JsonToken.START_OBJECT) {
            throw new InvalidEventException("event must be a JSON object, got " + describe(first));
        }
        String key = null;
        Long ts = null;
        String id = null;
        boolean hasToken = false;
        long token = 0;
        float[] features = null;
        int seen = 0; // the known fields read so far, as bits
        String unknown1 = null; // the first three unknown fields' names, then a set of the others
        String unknown2 = null;
        String unknown3 = null;
        Set<String> unknowns = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "key":
                    seen = once(seen, KEY, field);
                    if (v != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("key must be a string, got " + describe(v));
                    }
                    key = p.getText();
                    break;
                case "ts":
                    seen = once(seen, TS, field);
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                        throw new InvalidEventException("ts must be an integer (epoch milliseconds), got " + describe(v));
                    }
                    ts = p.getLongValue();
                    break;
                case "id":
                    seen = once(seen, ID, field);
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (v != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("id must be a string, got " + describe(v));
                    }
                    id = p.getText();
                    check(EventRules.unicodeError("id", id));
                    break;
                case "token":
                    seen = once(seen, TOKEN, field);
                    if (v != JsonToken.VALUE_NUMBER_INT) {
                        throw new InvalidEventException("token must be an integer, got "
                                + (v == JsonToken.VALUE_NUMBER_FLOAT && p.isNaN() ? "NaN" : describe(v))
                                + (v == JsonToken.VALUE_STRING ? " \"" + clip(p.getText()) + "\"" : ""));
                    }
                    hasToken = true;
                    token = p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? Long.MAX_VALUE : p.getLongValue();
                    break;
                case "features":
                    seen = once(seen, FEATURES, field);
                    features = features(p, v);
                    break;
                default:
                    // Unknown fields are ignored, but not when repeated.
                    if (field.equals(unknown1) || field.equals(unknown2) || field.equals(unknown3)) {
                        throw duplicate(field);
                    } else if (unknown1 == null) {
                        unknown1 = field;
                    } else if (unknown2 == null) {
                        unknown2 = field;
                    } else if (unknown3 == null) {
                        unknown3 = field;
                    } else {
                        if (unknowns == null) {
                            unknowns = new HashSet<>();
                        }
                        if (!unknowns.add(field)) {
                            throw duplicate(field);
                        }
                    }
                    p.skipChildren();
            }
        }
        if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
            throw new InvalidEventException("not valid JSON: trailing content after the event object");
        }
        if (key == null) {
            key = fallbackKey;
        }
        check(EventRules.keyError(key));
        check(EventRules.inputError(tokens, hasToken, features != null));
        if (tokens) {
            check(EventRules.tokenError(token, vocabSize));
            return new Event(key, ts, id, (int) token, null);
        }
        check(EventRules.featureCountError(dim, features.length));
        return new Event(key, ts, id, -1, features);
    }

    private float[] features(JsonParser p, JsonToken v) throws IOException, InvalidEventException {
        if (v != JsonToken.START_ARRAY) {
            throw new InvalidEventException("features must be an array of numbers, got " + describe(v));
        }
        float[] f = new float[Math.max(dim, 1)];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
                throw new InvalidEventException("features[" + n + "] must be a number, got " + describe(t));
            }
            double d = p.getDoubleValue();
            check(EventRules.featureError(n, d));
            float x = (float) d;
            if (n == f.length) {
                f = Arrays.copyOf(f, 2 * n);
            }
            f[n++] = x;
        }
        return n == f.length ? f : Arrays.copyOf(f, n);
    }

    /** {@code seen} with {@code bit} added; rejects a field that was already read. */
    private static int once(int seen, int bit, String field) throws InvalidEventException {
        if ((seen & bit) != 0) {
            throw duplicate(field);
        }
        return seen | bit;
    }

    private static InvalidEventException duplicate(String field) {
        return new InvalidEventException("duplicate field \"" + clip(field) + "\"");
    }

    /**
     * The offset of the first byte of the first malformed sequence in {@code b[off..off+len)}, or -1 when it is
     * well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no cut sequence).
     */
    static int badUtf8(byte[] b, int off, int len) {
        int end = off + len;
        int i = off;
        while (i < end) {
            if (i + 8 <= end) {
                long high = (long) WORD.get(b, i) & 0x8080808080808080L;
                if (high == 0) {
                    i += 8; // eight ASCII bytes
                    continue;
                }
                i += Long.numberOfTrailingZeros(high) >>> 3; // to the first byte that is not ASCII
            } else if (b[i] >= 0) {
                i++;
                continue;
            }
            int c = b[i] & 0xff;
            int more;
            int lo = 0x80; // the range of the second byte (Unicode table 3-7)
            int hi = 0xbf;
            if (c >= 0xc2 && c <= 0xdf) {
                more = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                more = 2;
                lo = c == 0xe0 ? 0xa0 : lo; // not overlong
                hi = c == 0xed ? 0x9f : hi; // not a surrogate
            } else if (c >= 0xf0 && c <= 0xf4) {
                more = 3;
                lo = c == 0xf0 ? 0x90 : lo; // not overlong
                hi = c == 0xf4 ? 0x8f : hi; // not above U+10FFFF
            } else {
                return i - off;
            }
            if (end - i <= more) {
                return i - off;
            }
            int c1 = b[i + 1] & 0xff;
            if (c1 < lo || c1 > hi || more > 1 && (b[i + 2] & 0xc0) != 0x80 || more > 2 && (b[i + 3] & 0xc0) != 0x80) {
                return i - off;
            }
            i += more + 1;
        }
        return -1;
    }

    /** Refuses the event for {@code error}, one of {@link EventRules}' answers, unless it is null. */
    private static void check(String error) throws InvalidEventException {
        if (error != null) {
            throw new InvalidEventException(error);
        }
    }

    private static String describe(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        switch (t) {
            case START_OBJECT: return "an object";
            case START_ARRAY: return "an array";
            case VALUE_STRING: return "a string";
            case VALUE_NUMBER_INT: return "an integer";
            case VALUE_NUMBER_FLOAT: return "a fractional number";
            case VALUE_TRUE:
            case VALUE_FALSE: return "a boolean";
            case VALUE_NULL: return "null";
            default: return t.toString();
        }
    }

    /** Jackson's message without its source-location and expectation boilerplate. */
    private static String shorten(String msg) {
        String m = msg.replaceAll("\\s*\\(start marker at .*\\)", "");
        int cut = m.indexOf(": was expecting");
        return (cut > 0 ? m.substring(0, cut) : m).strip();
    }

    private static String clip(String s) {
        return s.length() > 32 ? s.substring(0, 32) + "..." : s;
    }
}
