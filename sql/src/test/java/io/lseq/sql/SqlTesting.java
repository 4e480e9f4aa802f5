package io.lseq.sql;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Helpers of the SQL tests: the bundled model and events, and what lseq score makes of them. */
final class SqlTesting {
    static final ObjectMapper JSON = new ObjectMapper();

    private SqlTesting() {}

    /** The repository's root (tests run in sql/). */
    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.exists(p.resolve("examples/models"))) {
            p = p.getParent();
        }
        return p;
    }

    static Path model(String name) {
        return root().resolve("examples/models").resolve(name);
    }

    static List<String> sampleLines(int n) throws IOException {
        try (Stream<String> s = Files.lines(root().resolve("examples/events/sample.jsonl"))) {
            return s.limit(n).toList();
        }
    }

    /** One expected score: (key, seq) with the float32 score bits, as lseq score computes them. */
    record Expected(String key, long seq, Long ts, String id, float score) {}

    /** What lseq score computes for these lines: EventParser, one KeyState per key, Scorer, in line order. */
    static List<Expected> expected(Model model, List<String> lines) {
        EventParser parser = new EventParser(model.config().input());
        Scorer scorer = model.newScorer();
        Map<String, KeyState> states = new HashMap<>();
        float[] out = new float[model.outputSize()];
        List<Expected> res = new ArrayList<>();
        for (String line : lines) {
            Event e;
            try {
                e = parser.parse(line.getBytes(StandardCharsets.UTF_8), null);
            } catch (InvalidEventException ex) {
                continue;
            }
            KeyState st = states.computeIfAbsent(e.key(), k -> model.newState());
            long seq = model.nextSeq(st);
            scorer.stepToken(st, e.token(), out);
            res.add(new Expected(e.key(), seq, e.ts(), e.id(), out[0]));
        }
        return res;
    }

    /** Every JSON line of the part files under {@code dir}. */
    static List<JsonNode> readJsonDir(Path dir) {
        List<JsonNode> rows = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .sorted().toList()) {
                for (String line : Files.readAllLines(f)) {
                    if (!line.isBlank()) {
                        rows.add(JSON.readTree(line));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }

    /** The scored rows (error null) by "key/seq". */
    static Map<String, JsonNode> byKeySeq(List<JsonNode> rows) {
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode r : rows) {
            if (r.path("error").isNull() || r.path("error").isMissingNode()) {
                JsonNode prev = m.put(r.get("key").asText() + "/" + r.get("seq").asLong(), r);
                if (prev != null) {
                    throw new AssertionError("(key, seq) twice: " + r + " and " + prev);
                }
            }
        }
        return m;
    }

    /** Asserts one SQL score row per expected score, with the same float32 bits, ts and id. */
    static void assertSameScores(List<Expected> expected, Map<String, JsonNode> actual) {
        if (expected.size() != actual.size()) {
            throw new AssertionError("expected " + expected.size() + " scores, got " + actual.size());
        }
        for (Expected e : expected) {
            JsonNode r = actual.get(e.key() + "/" + e.seq());
            if (r == null) {
                throw new AssertionError("no score for " + e.key() + "/" + e.seq());
            }
            double d = r.get("score").asDouble();
            if (Float.floatToIntBits((float) d) != Float.floatToIntBits(e.score()) || (double) (float) d != d) {
                throw new AssertionError("score of " + e.key() + "/" + e.seq() + ": SQL " + d + ", lseq score " + e.score());
            }
            if (e.ts() != null && r.get("ts").asLong() != e.ts()) {
                throw new AssertionError("ts of " + e.key() + "/" + e.seq());
            }
        }
    }
}
