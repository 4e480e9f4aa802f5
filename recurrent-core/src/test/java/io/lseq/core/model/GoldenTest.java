package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The engine against the float64 PyTorch reference (tools/reference), on every committed golden
 * case: every mixer, head, norm, gelu and dtype, several interleaved keys, 2,000 to 10,000 events
 * per key. Every emitted number must satisfy MODEL_FORMAT.md's |a - b| <= 1e-4 + 1e-4 |b|.
 */
class GoldenTest {
    static final Path GOLDEN = Paths.get("src/test/resources/golden");
    static final ObjectMapper JSON = new ObjectMapper();

    static Stream<String> cases() throws IOException {
        try (Stream<Path> dirs = Files.list(GOLDEN)) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList().stream();
        }
    }

    @Test
    void everyMixerAndHeadIsCovered() throws IOException {
        String all = String.join(" ", cases().map(c -> {
            try {
                return Files.readString(GOLDEN.resolve(c).resolve("config.json"));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }).toList()).replace(" ", "");
        for (String needle : new String[] {"\"lru\"", "\"gru\"", "\"lstm\"", "\"attention\"", "\"gau\"",
            "\"next_token\"", "\"classes\"", "\"regression\"", "\"rms\"", "\"layer\"", "\"tanh\"", "\"bos_token\"",
            "\"tie_embeddings\":true", "\"post\":\"none\"", "\"mlp\"", "\"sinks\""}) {
            assertTrue(all.contains(needle), "no golden case uses " + needle);
        }
        String dtypes = Files.readString(GOLDEN.resolve("index.json"));
        assertTrue(dtypes.contains("F16") && dtypes.contains("BF16"), "F16 and BF16 cases");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheReference(String name) throws IOException {
        Path dir = GOLDEN.resolve(name);
        Model model = Model.load(dir);
        List<JsonNode> events = readGz(dir.resolve("events.jsonl.gz"));
        List<JsonNode> expected = readGz(dir.resolve("expected.jsonl.gz"));
        assertEquals(events.size(), expected.size(), "one expected line per event");
        Scorer scorer = model.newScorer();
        Map<String, KeyState> states = new HashMap<>();
        Map<String, Integer> perKey = new HashMap<>();
        float[] out = new float[model.outputSize()];
        double worst = 0;
        String worstAt = "";
        for (int i = 0; i < events.size(); i++) {
            JsonNode e = events.get(i);
            JsonNode want = expected.get(i);
            String key = e.get("key").asText();
            assertEquals(key, want.get("key").asText(), "line " + (i + 1));
            KeyState st = states.computeIfAbsent(key, k -> model.newState());
            assertEquals(want.get("seq").asLong(), model.nextSeq(st), "seq at line " + (i + 1));
            if (e.has("token")) {
                scorer.stepToken(st, e.get("token").asInt(), out);
            } else {
                JsonNode f = e.get("features");
                float[] features = new float[f.size()];
                for (int j = 0; j < features.length; j++) {
                    features[j] = (float) f.get(j).asDouble();
                }
                scorer.stepFeatures(st, features, out);
            }
            perKey.merge(key, 1, Integer::sum);
            JsonNode values = want.has("probs") ? want.get("probs") : JSON.createArrayNode().add(want.get("score"));
            assertEquals(values.size(), out.length, "output size");
            for (int j = 0; j < out.length; j++) {
                double b = values.get(j).asDouble();
                double ratio = Math.abs(out[j] - b) / (1e-4 + 1e-4 * Math.abs(b));
                if (ratio > worst) {
                    worst = ratio;
                    worstAt = "line " + (i + 1) + " key " + key + " seq " + want.get("seq") + ": engine " + out[j]
                            + ", reference " + b;
                }
            }
        }
        System.out.printf("golden %-28s %6d events, %d keys, worst error %.4f of tolerance (%s)%n", name,
                events.size(), states.size(), worst, worstAt);
        assertTrue(perKey.values().stream().allMatch(n -> n >= 2000), "at least 2,000 events per key");
        assertTrue(states.size() >= 2, "several keys");
        assertTrue(worst <= 1.0, "outside tolerance at " + worstAt);
    }

    static List<JsonNode> readGz(Path p) throws IOException {
        return io.lseq.core.testing.TestModels.readJsonLinesGz(p);
    }
}
