package io.lseq.connectors.event;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import io.lseq.core.format.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Parses and validates one record against EVENTS.md and the model's input. A record that fails
 * any check raises {@link InvalidEventException} with the reason, and never reaches a key's state.
 * Thread-safe.
 */
public final class EventParser {
    /** Largest record accepted, in bytes. */
    public static final int MAX_RECORD_BYTES = 1 << 20;
    /** Largest key accepted, in UTF-8 bytes. */
    public static final int MAX_KEY_BYTES = 256;

    private static final JsonFactory JSON = JsonFactory.builder()
            // NaN and Infinity are read so that they can be rejected by name, not as "bad JSON".
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build();

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
        try (JsonParser p = JSON.createParser(record, off, len)) {
            return read(p, fallbackKey);
        } catch (JsonParseException ex) {
            throw new InvalidEventException("not valid JSON: " + shorten(ex.getOriginalMessage()));
        } catch (IOException ex) {
            throw new InvalidEventException("cannot read record: " + ex.getMessage());
        }
    }

    /** The rejection of a record of {@code bytes} bytes, over {@link #MAX_RECORD_BYTES}. */
    public static InvalidEventException tooLarge(long bytes) {
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
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "key":
                    if (v != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("key must be a string, got " + describe(v));
                    }
                    key = p.getText();
                    break;
                case "ts":
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                        throw new InvalidEventException("ts must be an integer (epoch milliseconds), got " + describe(v));
                    }
                    ts = p.getLongValue();
                    break;
                case "id":
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (v != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("id must be a string, got " + describe(v));
                    }
                    id = p.getText();
                    break;
                case "token":
                    if (v != JsonToken.VALUE_NUMBER_INT) {
                        throw new InvalidEventException("token must be an integer, got "
                                + (v == JsonToken.VALUE_NUMBER_FLOAT && p.isNaN() ? "NaN" : describe(v))
                                + (v == JsonToken.VALUE_STRING ? " \"" + clip(p.getText()) + "\"" : ""));
                    }
                    hasToken = true;
                    token = p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? Long.MAX_VALUE : p.getLongValue();
                    break;
                case "features":
                    features = features(p, v);
                    break;
                default:
                    p.skipChildren(); // unknown fields are ignored
            }
        }
        if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
            throw new InvalidEventException("not valid JSON: trailing content after the event object");
        }
        if (key == null) {
            key = fallbackKey;
        }
        if (key == null) {
            throw new InvalidEventException("missing key");
        }
        int keyBytes = utf8Length(key);
        if (keyBytes == 0 || keyBytes > MAX_KEY_BYTES) {
            throw new InvalidEventException("key is " + keyBytes + " UTF-8 bytes, must be 1.." + MAX_KEY_BYTES);
        }
        if (hasToken && features != null) {
            throw new InvalidEventException("event has both token and features, needs exactly one");
        }
        if (tokens) {
            if (!hasToken) {
                throw new InvalidEventException(features != null ? "model takes tokens, event has features"
                        : "missing token");
            }
            if (token < 0 || token >= vocabSize) {
                throw new InvalidEventException("token " + (token == Long.MAX_VALUE ? "(huge)" : token)
                        + " out of range [0, " + vocabSize + ")");
            }
            return new Event(key, ts, id, (int) token, null);
        }
        if (features == null) {
            throw new InvalidEventException(hasToken ? "model takes features, event has a token" : "missing features");
        }
        if (features.length != dim) {
            throw new InvalidEventException("expected " + dim + " features, got " + features.length);
        }
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
            float x = (float) d;
            if (!Float.isFinite(x)) {
                throw new InvalidEventException("features[" + n + "] is " + (Double.isNaN(d) ? "NaN"
                        : Double.isInfinite(d) ? "infinite" : d + ", beyond float32 range") + "; features must be finite");
            }
            if (n == f.length) {
                f = Arrays.copyOf(f, 2 * n);
            }
            f[n++] = x;
        }
        return n == f.length ? f : Arrays.copyOf(f, n);
    }

    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
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
