package io.lseq.cli;

import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.Model;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lseq inspect}: the architecture, parameter count and state bytes per key of a model. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        header = "print a model's architecture, parameter count and state bytes per key",
        customSynopsis = "lseq inspect --model DIR",
        description = "Loads and validates the model (MODEL_FORMAT.md), then prints its architecture, its parameter count "
            + "and the size and layout of one key's state.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "model directory (config.json + model.safetensors) (required)")
    Path model;

    @Override
    public Integer call() {
        System.out.print(describe(Model.load(model), model.toString()));
        return 0;
    }

    /** The text {@code inspect} prints. */
    static String describe(Model m, String where) {
        ModelConfig c = m.config();
        StringBuilder b = new StringBuilder();
        line(b, "model", c.name() + "  (" + where + ")");
        ModelConfig.Input in = c.input();
        line(b, "input", in.tokens() ? "tokens, vocab_size " + in.vocabSize()
                + (in.hasBos() ? ", bos_token " + in.bosToken() : ", no BOS") : "features, dim " + in.dim());
        line(b, "d_model", c.dModel() + ", norm " + c.norm().name().toLowerCase(Locale.ROOT) + " (eps "
                + c.normEps() + "), gelu " + c.gelu().name().toLowerCase(Locale.ROOT));
        for (int i = 0; i < c.blocks().size(); i++) {
            ModelConfig.Block blk = c.blocks().get(i);
            line(b, "block " + i, mixer(blk.mixer()) + ", post " + blk.post().name().toLowerCase(Locale.ROOT)
                    + (blk.mlpHidden() > 0 ? ", mlp hidden " + blk.mlpHidden() : ""));
        }
        ModelConfig.Head h = c.head();
        line(b, "head", switch (h.type()) {
            case NEXT_TOKEN -> "next_token (surprisal in nats)" + (h.tieEmbeddings() ? ", tied embeddings" : "");
            case CLASSES -> "classes, " + h.numClasses() + " probabilities";
            case REGRESSION -> "regression, dim " + h.dim() + " (mean squared error)";
        });
        line(b, "parameters", String.format(Locale.ROOT, "%,d", m.parameterCount()));
        line(b, "state", String.format(Locale.ROOT, "%,d bytes per key (%,d floats + 8-byte position)",
                m.stateBytes(), m.stateSize()));
        for (Model.Region r : m.layout()) {
            line(b, "", String.format(Locale.ROOT, "floats [%d, %d)  %s", r.offset(), r.offset() + r.size(), r.name()));
        }
        return b.toString();
    }

    private static String mixer(ModelConfig.Mixer m) {
        if (m instanceof ModelConfig.Lru x) {
            return "lru d_state " + x.dState();
        } else if (m instanceof ModelConfig.Gru x) {
            return "gru d_state " + x.dState();
        } else if (m instanceof ModelConfig.Lstm x) {
            return "lstm d_state " + x.dState();
        } else if (m instanceof ModelConfig.Attention x) {
            return "attention heads " + x.heads() + ", window " + x.window() + ", rope_theta " + x.ropeTheta()
                    + (x.lognBase() > 0 ? ", logn_base " + x.lognBase() : "") + (x.sinks() > 0 ? ", sinks " + x.sinks() : "");
        }
        ModelConfig.Gau g = (ModelConfig.Gau) m;
        return "gau expansion " + g.expansion() + ", key_size " + g.keySize() + ", window " + g.window()
                + ", rope_theta " + g.ropeTheta() + ", logn_base " + g.lognBase() + (g.sinks() > 0 ? ", sinks " + g.sinks() : "");
    }

    private static void line(StringBuilder b, String label, String text) {
        b.append(String.format(Locale.ROOT, "%-11s %s%n", label, text));
    }
}
