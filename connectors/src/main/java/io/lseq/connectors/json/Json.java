package io.lseq.connectors.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Scores and dead letters to and from their JSON text (EVENTS.md), one object per line. */
public final class Json {
    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);

    private Json() {}

    /** A score as one line of JSON, without the newline. */
    public static byte[] score(Score s) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(96 + 12 * s.values().length);
        try (JsonGenerator g = FACTORY.createGenerator(buf)) {
            g.writeStartObject();
            g.writeStringField("key", s.key());
            g.writeNumberField("seq", s.seq());
            if (s.ts() != null) {
                g.writeNumberField("ts", s.ts());
            }
            if (s.id() != null) {
                g.writeStringField("id", s.id());
            }
            g.writeStringField("model", s.model());
            if (s.probs()) {
                g.writeArrayFieldStart("probs");
                for (float p : s.values()) {
                    g.writeNumber(p);
                }
                g.writeEndArray();
            } else {
                g.writeNumberField("score", s.values()[0]);
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buf.toByteArray();
    }

    /** A dead letter as one line of JSON, without the newline. */
    public static byte[] deadLetter(DeadLetter d) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(64 + d.raw().length());
        try (JsonGenerator g = FACTORY.createGenerator(buf)) {
            g.writeStartObject();
            g.writeStringField("error", d.error());
            g.writeStringField("raw", d.raw());
            g.writeStringField("source", d.source());
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buf.toByteArray();
    }

    /** Reads a score line back (tools and tests). */
    public static Score parseScore(String line) {
        try {
            JsonNode n = MAPPER.readTree(line);
            float[] values;
            boolean probs = n.has("probs");
            if (probs) {
                values = new float[n.get("probs").size()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) n.get("probs").get(i).asDouble();
                }
            } else {
                values = new float[] {(float) n.get("score").asDouble()};
            }
            return new Score(n.get("key").asText(), n.get("seq").asLong(), n.has("ts") ? n.get("ts").asLong() : null,
                    n.has("id") ? n.get("id").asText() : null, n.path("model").asText(null), values, probs);
        } catch (IOException e) {
            throw new IllegalArgumentException("not a score line: " + line, e);
        }
    }

    /** Reads a dead-letter line back (tools and tests). */
    public static DeadLetter parseDeadLetter(String line) {
        try {
            JsonNode n = MAPPER.readTree(line);
            return new DeadLetter(n.get("error").asText(), n.get("raw").asText(), n.get("source").asText());
        } catch (IOException e) {
            throw new IllegalArgumentException("not a dead-letter line: " + line, e);
        }
    }
}
