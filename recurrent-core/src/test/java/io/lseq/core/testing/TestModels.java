package io.lseq.core.testing;

import io.lseq.core.format.ConfigParser;
import io.lseq.core.model.Model;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Models for tests: random ones from a config, the committed goldens, the bundled examples. */
public final class TestModels {
    private TestModels() {}

    /** A model with random weights for {@code configJson}. */
    public static Model random(String configJson, long seed) {
        return Model.of(ConfigParser.parse(configJson), new RandomWeights(seed));
    }

    /** Writes a random model for {@code configJson} to {@code dir} (config.json + model.safetensors). */
    public static Path writeRandom(Path dir, String configJson, long seed) {
        try {
            RandomWeights w = new RandomWeights(seed);
            Model.of(ConfigParser.parse(configJson), w);
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), configJson);
            SafeTensorsWriter.write(dir.resolve("model.safetensors"), w.tensors());
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A compact config: tokens V=32 (BOS 1), H=16, the given blocks JSON, next_token head. */
    public static String tokensConfig(String blocksJson) {
        return "{\"format\":\"lseq-model\",\"version\":1,\"name\":\"test\",\"d_model\":16,"
                + "\"input\":{\"type\":\"tokens\",\"vocab_size\":32,\"bos_token\":1},"
                + "\"blocks\":" + blocksJson + ",\"head\":{\"type\":\"next_token\",\"tie_embeddings\":false}}";
    }

    /** The repository root, found from the working directory of any module. */
    public static Path repoRoot() {
        Path p = Paths.get("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("recurrent-core"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root above " + Paths.get("").toAbsolutePath());
        }
        return p;
    }

    /** The JSON objects of a gzipped JSON Lines file (the goldens' events and expected outputs), blank lines skipped. */
    public static java.util.List<com.fasterxml.jackson.databind.JsonNode> readJsonLinesGz(Path p) throws IOException {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        java.util.List<com.fasterxml.jackson.databind.JsonNode> out = new java.util.ArrayList<>();
        try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                new java.util.zip.GZIPInputStream(Files.newInputStream(p)), java.nio.charset.StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.isBlank()) {
                    out.add(json.readTree(line));
                }
            }
        }
        return out;
    }
}
