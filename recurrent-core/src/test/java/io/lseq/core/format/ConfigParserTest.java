package io.lseq.core.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.math.Gelu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigParserTest {
    static final String FULL = """
        {
          "format": "lseq-model", "version": 1, "name": "fraud-lru-small", "d_model": 64,
          "input": {"type": "tokens", "vocab_size": 512, "bos_token": 1},
          "norm": "layer", "norm_eps": 1e-5, "gelu": "erf",
          "blocks": [
            {"mixer": {"type": "lru", "d_state": 128}, "post": "glu"},
            {"mixer": {"type": "gru", "d_state": 64}, "post": "glu"},
            {"mixer": {"type": "attention", "heads": 4, "window": 256,
                       "rope_theta": 10000.0, "logn_base": 512}, "post": "none",
             "mlp": {"hidden": 256}},
            {"mixer": {"type": "gau", "window": 64}}
          ],
          "head": {"type": "next_token", "tie_embeddings": false},
          "exporter": {"anything": "is ignored"}
        }""";

    @Test
    void parsesTheFormatExample() {
        ModelConfig c = ConfigParser.parse(FULL);
        assertEquals("fraud-lru-small", c.name());
        assertEquals(64, c.dModel());
        assertEquals(1, c.input().bosToken());
        assertEquals(Gelu.ERF, c.gelu());
        assertEquals(new ModelConfig.Lru(128), c.blocks().get(0).mixer());
        assertEquals(new ModelConfig.Attention(4, 256, 10000.0, 512, 0), c.blocks().get(2).mixer());
        assertEquals(256, c.blocks().get(2).mlpHidden());
        assertEquals(ModelConfig.Post.NONE, c.blocks().get(2).post());
        // GAU defaults: expansion 2, key_size 128, rope_theta 10000, logn_base 512; post glu.
        assertEquals(new ModelConfig.Gau(2, 128, 64, 10000.0, 512, 0), c.blocks().get(3).mixer());
        assertEquals(ModelConfig.Post.GLU, c.blocks().get(3).post());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"d_model\": 64|\"d_model\": \"64\"|field d_model: must be an integer",
        "\"d_state\": 128|\"d_state\": 12.5|field blocks[0].mixer.d_state: must be an integer",
        "\"type\": \"gru\"|\"type\": \"mamba\"|field blocks[1].mixer.type: unknown mixer type \"mamba\"",
        "\"type\": \"next_token\"|\"type\": \"ranking\"|field head.type: unknown head type \"ranking\"",
        "\"heads\": 4|\"heads\": 5|field blocks[2].mixer.heads: 5 heads do not divide d_model 64",
        "\"post\": \"none\"|\"post\": \"gated\"|field blocks[2].post: must be \"glu\" or \"none\"",
        "\"norm\": \"layer\"|\"norm\": \"batch\"|field norm: must be \"layer\" or \"rms\"",
        "\"gelu\": \"erf\"|\"gelu\": true|field gelu: must be a string",
        "\"tie_embeddings\": false|\"tie_embeddings\": \"no\"|field head.tie_embeddings: must be true or false",
        "\"bos_token\": 1|\"bos_token\": 512|field input.bos_token: token 512 is out of range [0, 512)",
        "\"version\": 1|\"version\": 2|version 2 is not supported",
        "\"format\": \"lseq-model\"|\"format\": \"onnx\"|field format: must be \"lseq-model\"",
        "\"window\": 256|\"window\": 0|field blocks[2].mixer.window: must be positive",
        "\"logn_base\": 512}|\"logn_base\": 512, \"sinks\": -1}|field blocks[2].mixer.sinks: must be 0 or more, got -1",
        "\"logn_base\": 512}|\"logn_base\": 512, \"sinks\": 1.5}|field blocks[2].mixer.sinks: must be an integer",
        "\"logn_base\": 512|\"logn_base\": 1|field blocks[2].mixer.logn_base: must be a number greater than 1",
        "\"d_state\": 64|\"d_state\": 64, \"d_state\": 32|not valid JSON",
    })
    void rejectsNamingTheField(String from, String to, String expected) {
        String bad = FULL.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to));
        assertTrue(!bad.equals(FULL), "test replaced nothing: " + from);
        String msg = assertThrows(ModelFormatException.class, () -> ConfigParser.parse(bad)).getMessage();
        assertTrue(msg.startsWith("config.json: ") && msg.contains(expected), msg);
    }

    @Test
    void postNoneNeedsMixerWidthEqualToModel() {
        String bad = FULL.replace("{\"type\": \"gru\", \"d_state\": 64}, \"post\": \"glu\"",
                "{\"type\": \"gru\", \"d_state\": 32}, \"post\": \"none\"");
        String msg = assertThrows(ModelFormatException.class, () -> ConfigParser.parse(bad)).getMessage();
        assertTrue(msg.contains("blocks[1].post") && msg.contains("(32)"), msg);
    }

    @Test
    void headMustFitTheInput() {
        String features = FULL.replace("{\"type\": \"tokens\", \"vocab_size\": 512, \"bos_token\": 1}",
                "{\"type\": \"features\", \"dim\": 3}");
        assertTrue(assertThrows(ModelFormatException.class, () -> ConfigParser.parse(features)).getMessage()
                .contains("next_token requires \"tokens\" input"));
        String regression = features.replace("{\"type\": \"next_token\", \"tie_embeddings\": false}",
                "{\"type\": \"regression\", \"dim\": 4}");
        assertTrue(assertThrows(ModelFormatException.class, () -> ConfigParser.parse(regression)).getMessage()
                .contains("field head.dim"));
        ConfigParser.parse(regression.replace("\"dim\": 4", "\"dim\": 3"));
    }

    @Test
    void missingFieldsAreNamed() {
        String msg = assertThrows(ModelFormatException.class,
                () -> ConfigParser.parse(FULL.replace("\"d_state\": 128", "\"state\": 128"))).getMessage();
        assertTrue(msg.contains("field blocks[0].mixer.d_state: is required"), msg);
        msg = assertThrows(ModelFormatException.class, () -> ConfigParser.parse("{\"format\":\"lseq-model\",\"version\":1}"))
                .getMessage();
        assertTrue(msg.contains("field name: is required"), msg);
    }
}
