package io.lseq.core.format;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lseq.core.math.Gelu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses and validates {@code config.json}. Every rejection names the field by its JSON path
 * (for example {@code blocks[1].mixer.d_state}). Unknown fields are ignored, as in EVENTS.md, so
 * an exporter may add its own metadata.
 */
public final class ConfigParser {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private ConfigParser() {}

    /** Reads and validates {@code file}; errors name it. */
    public static ModelConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException ex) {
            throw new ModelFormatException(file.toString(), "no such file");
        } catch (IOException ex) {
            throw new ModelFormatException(file.toString(), "cannot read: " + ex.getMessage(), ex);
        }
        return parse(text, file.toString());
    }

    /** Parses and validates config text; errors name {@code config.json}. */
    public static ModelConfig parse(String text) {
        return parse(text, "config.json");
    }

    /** Parses and validates config text; errors name {@code file}. */
    public static ModelConfig parse(String text, String file) {
        try {
            return parseTree(text);
        } catch (Invalid ex) {
            throw new ModelFormatException(file, ex.getMessage());
        }
    }

    /** A rejection without its file, which {@link #parse(String, String)} adds. */
    private static final class Invalid extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    private static ModelConfig parseTree(String text) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException ex) {
            throw new Invalid("not valid JSON: " + ex.getOriginalMessage()
                    + " at line " + ex.getLocation().getLineNr());
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("must hold a JSON object");
        }
        Obj r = new Obj(root, "");
        String format = r.str("format", null);
        if (!"lseq-model".equals(format)) {
            throw fail("format", "must be \"lseq-model\", got " + quote(format));
        }
        int version = r.integer("version", -1);
        if (version != 1) {
            throw fail("version", "version " + version + " is not supported (this engine reads version 1)");
        }
        String name = r.str("name", null);
        if (name == null || name.isEmpty()) {
            throw fail("name", "is required");
        }
        int h = r.positive("d_model");

        Obj in = r.obj("input");
        String inType = in.str("type", null);
        ModelConfig.Input input;
        if ("tokens".equals(inType)) {
            int v = in.positive("vocab_size");
            int bos = in.integer("bos_token", -1);
            if (in.has("bos_token") && (bos < 0 || bos >= v)) {
                throw fail("input.bos_token", "token " + bos + " is out of range [0, " + v + ")");
            }
            input = new ModelConfig.Input(true, v, bos, 0);
        } else if ("features".equals(inType)) {
            input = new ModelConfig.Input(false, 0, -1, in.positive("dim"));
        } else {
            throw fail("input.type", "must be \"tokens\" or \"features\", got " + quote(inType));
        }

        ModelConfig.Norm norm = switch (r.str("norm", "layer")) {
            case "layer" -> ModelConfig.Norm.LAYER;
            case "rms" -> ModelConfig.Norm.RMS;
            default -> throw fail("norm", "must be \"layer\" or \"rms\", got " + quote(r.str("norm", null)));
        };
        double eps = r.number("norm_eps", 1e-5);
        if (!(eps > 0)) {
            throw fail("norm_eps", "must be positive, got " + eps);
        }
        Gelu gelu = switch (r.str("gelu", "erf")) {
            case "erf" -> Gelu.ERF;
            case "tanh" -> Gelu.TANH;
            default -> throw fail("gelu", "must be \"erf\" or \"tanh\", got " + quote(r.str("gelu", null)));
        };

        JsonNode blocksNode = root.get("blocks");
        if (blocksNode == null || !blocksNode.isArray() || blocksNode.isEmpty()) {
            throw fail("blocks", "must be a non-empty array");
        }
        List<ModelConfig.Block> blocks = new ArrayList<>();
        for (int i = 0; i < blocksNode.size(); i++) {
            blocks.add(block(new Obj(blocksNode.get(i), "blocks[" + i + "]"), h));
        }

        Obj hd = r.obj("head");
        String headType = hd.str("type", null);
        ModelConfig.Head head;
        if ("next_token".equals(headType)) {
            if (!input.tokens()) {
                throw fail("head.type", "next_token requires \"tokens\" input");
            }
            head = new ModelConfig.Head(ModelConfig.HeadType.NEXT_TOKEN, hd.bool("tie_embeddings", false), 0, 0);
        } else if ("classes".equals(headType)) {
            head = new ModelConfig.Head(ModelConfig.HeadType.CLASSES, false, hd.positive("num_classes"), 0);
        } else if ("regression".equals(headType)) {
            int dim = hd.positive("dim");
            if (input.tokens() || dim != input.dim()) {
                throw fail("head.dim", "regression predicts the next feature vector, so dim must equal input.dim ("
                        + (input.tokens() ? "input is tokens" : input.dim()) + "), got " + dim);
            }
            head = new ModelConfig.Head(ModelConfig.HeadType.REGRESSION, false, 0, dim);
        } else {
            throw fail("head.type", "unknown head type " + quote(headType)
                    + " (next_token, classes or regression)");
        }
        return new ModelConfig(name, h, input, norm, (float) eps, gelu, List.copyOf(blocks), head);
    }

    private static ModelConfig.Block block(Obj b, int h) {
        Obj m = b.obj("mixer");
        String type = m.str("type", null);
        ModelConfig.Mixer mixer;
        int mixerOut;
        if ("lru".equals(type)) {
            mixer = new ModelConfig.Lru(m.positive("d_state"));
            mixerOut = h;
        } else if ("gru".equals(type)) {
            mixer = new ModelConfig.Gru(m.positive("d_state"));
            mixerOut = ((ModelConfig.Gru) mixer).dState();
        } else if ("lstm".equals(type)) {
            mixer = new ModelConfig.Lstm(m.positive("d_state"));
            mixerOut = ((ModelConfig.Lstm) mixer).dState();
        } else if ("attention".equals(type)) {
            int heads = m.positive("heads");
            if (h % heads != 0) {
                throw fail(m.path("heads"), heads + " heads do not divide d_model " + h);
            }
            if ((h / heads) % 2 != 0) {
                throw fail(m.path("heads"), "head dim " + (h / heads) + " must be even for RoPE");
            }
            mixer = new ModelConfig.Attention(heads, m.positive("window"), m.positiveNumber("rope_theta", 10000),
                    m.has("logn_base") ? m.lognBase("logn_base", 0) : 0, m.nonNegative("sinks", 0));
            mixerOut = h;
        } else if ("gau".equals(type)) {
            int keySize = m.has("key_size") ? m.positive("key_size") : 128;
            if (keySize % 2 != 0) {
                throw fail(m.path("key_size"), "must be even for RoPE, got " + keySize);
            }
            int expansion = m.has("expansion") ? m.positive("expansion") : 2;
            mixer = new ModelConfig.Gau(expansion, keySize, m.positive("window"),
                    m.positiveNumber("rope_theta", 10000), m.lognBase("logn_base", 512), m.nonNegative("sinks", 0));
            mixerOut = h;
        } else {
            throw fail(m.path("type"), "unknown mixer type " + quote(type) + " (lru, gru, lstm, attention or gau)");
        }
        ModelConfig.Post post = switch (b.str("post", "glu")) {
            case "glu" -> ModelConfig.Post.GLU;
            case "none" -> ModelConfig.Post.NONE;
            default -> throw fail(b.path("post"), "must be \"glu\" or \"none\", got " + quote(b.str("post", null)));
        };
        if (post == ModelConfig.Post.NONE && mixerOut != h) {
            throw fail(b.path("post"), "\"none\" needs the mixer's output (" + mixerOut
                    + ") to equal d_model (" + h + ")");
        }
        int mlp = 0;
        if (b.has("mlp") && !b.node.get("mlp").isNull()) {
            mlp = b.obj("mlp").positive("hidden");
        }
        return new ModelConfig.Block(mixer, post, mlp);
    }

    private static Invalid fail(String path, String message) {
        return new Invalid("field " + path + ": " + message);
    }

    private static String quote(String s) {
        return s == null ? "nothing" : "\"" + s + "\"";
    }

    /** A JSON object with its path, for messages. */
    private static final class Obj {
        final JsonNode node;
        final String prefix;

        Obj(JsonNode node, String prefix) {
            this.node = node;
            this.prefix = prefix;
            if (node == null || !node.isObject()) {
                throw fail(prefix.isEmpty() ? "(root)" : prefix, "must be an object, got " + describe(node));
            }
        }

        String path(String field) {
            return prefix.isEmpty() ? field : prefix + "." + field;
        }

        boolean has(String field) {
            return node.has(field);
        }

        Obj obj(String field) {
            JsonNode n = node.get(field);
            if (n == null) {
                throw fail(path(field), "is required");
            }
            return new Obj(n, path(field));
        }

        String str(String field, String dflt) {
            JsonNode n = node.get(field);
            if (n == null) {
                return dflt;
            }
            if (!n.isTextual()) {
                throw fail(path(field), "must be a string, got " + describe(n));
            }
            return n.asText();
        }

        boolean bool(String field, boolean dflt) {
            JsonNode n = node.get(field);
            if (n == null) {
                return dflt;
            }
            if (!n.isBoolean()) {
                throw fail(path(field), "must be true or false, got " + describe(n));
            }
            return n.asBoolean();
        }

        int integer(String field, int dflt) {
            JsonNode n = node.get(field);
            if (n == null) {
                return dflt;
            }
            // 64.0 is accepted as 64: JSON has one number type, and Python's json writes floats so.
            if (!n.isNumber() || n.asDouble() != Math.rint(n.asDouble())
                    || Math.abs(n.asDouble()) > Integer.MAX_VALUE) {
                throw fail(path(field), "must be an integer, got " + describe(n));
            }
            return (int) n.asDouble();
        }

        int positive(String field) {
            if (!has(field)) {
                throw fail(path(field), "is required");
            }
            int v = integer(field, 0);
            if (v <= 0) {
                throw fail(path(field), "must be positive, got " + v);
            }
            return v;
        }

        int nonNegative(String field, int dflt) {
            int v = integer(field, dflt);
            if (v < 0) {
                throw fail(path(field), "must be 0 or more, got " + v);
            }
            return v;
        }

        double number(String field, double dflt) {
            JsonNode n = node.get(field);
            if (n == null) {
                return dflt;
            }
            if (!n.isNumber()) {
                throw fail(path(field), "must be a number, got " + describe(n));
            }
            return n.asDouble();
        }

        double positiveNumber(String field, double dflt) {
            double v = number(field, dflt);
            if (!(v > 0) || Double.isInfinite(v)) {
                throw fail(path(field), "must be a positive number, got " + v);
            }
            return v;
        }

        double lognBase(String field, double dflt) {
            double v = number(field, dflt);
            if (!(v > 1) || Double.isInfinite(v)) {
                throw fail(path(field), "must be a number greater than 1 (ln(T0) divides), got " + v);
            }
            return v;
        }
    }

    private static String describe(JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        String s = n.toString();
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
