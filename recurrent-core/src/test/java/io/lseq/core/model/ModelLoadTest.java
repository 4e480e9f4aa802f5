package io.lseq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.format.Tensor;
import io.lseq.core.format.SafeTensors;
import io.lseq.core.testing.SafeTensorsWriter;
import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLoadTest {
    @TempDir
    Path tmp;

    static final String BLOCKS = "[{\"mixer\":{\"type\":\"lru\",\"d_state\":8}},"
            + "{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":4},\"post\":\"none\",\"mlp\":{\"hidden\":24}}]";

    private Path model() {
        return TestModels.writeRandom(tmp.resolve("m"), TestModels.tokensConfig(BLOCKS), 7);
    }

    private String rewriteAndReject(Path dir, java.util.function.Consumer<Map<String, Tensor>> edit) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>(SafeTensors.read(dir.resolve("model.safetensors")));
        edit.accept(t);
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), t);
        return assertThrows(ModelFormatException.class, () -> Model.load(dir)).getMessage();
    }

    @Test
    void loadsAndReportsSizes() {
        Model m = Model.load(model());
        // lru: re+im 2*8; attention: keys+values 2*4*16; head y: 16.
        assertEquals(16 + 128 + 16, m.stateSize());
        assertEquals(4L * 160 + 8, m.stateBytes());
        assertEquals(4, m.layout().size() + 1);
        assertEquals(1, m.newState().position(), "BOS consumed");
        assertEquals(0, m.nextSeq(m.newState()));
        long params = 32 * 16 // embed
                + 32 // norm
                + 3 * 8 + 4 * 8 * 16 + 16 // lru
                + 2 * (16 * 16 + 16) // out1 out2
                + 32 + 4 * 16 * 16 // norm, qkvo (no biases)
                + 32 + 24 * 16 + 24 + 16 * 24 + 16 // mlp
                + 32 + 32 * 16; // final norm, head
        assertEquals(params, m.parameterCount());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path dir = model();
        String msg = rewriteAndReject(dir, t -> t.remove("blocks.0.mixer.B_im"));
        assertTrue(msg.contains("model.safetensors") && msg.contains("missing tensor blocks.0.mixer.B_im")
                && msg.contains("[8, 16]"), msg);
    }

    @Test
    void extraTensorIsNamed() throws IOException {
        Path dir = model();
        String msg = rewriteAndReject(dir, t -> t.put("blocks.0.mixer.E", new Tensor("blocks.0.mixer.E",
                io.lseq.core.format.DType.F32, new int[] {2}, new float[2])));
        assertTrue(msg.contains("unexpected tensor blocks.0.mixer.E"), msg);
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path dir = model();
        String msg = rewriteAndReject(dir, t -> t.put("head.weight", new Tensor("head.weight",
                io.lseq.core.format.DType.F32, new int[] {16, 32}, new float[512])));
        assertTrue(msg.contains("tensor head.weight has shape [16, 32], expected [32, 16]"), msg);
    }

    @Test
    void someButNotAllAttentionBiasesAreRejected() throws IOException {
        Path dir = model();
        String msg = rewriteAndReject(dir, t -> t.put("blocks.1.mixer.q.bias", new Tensor("blocks.1.mixer.q.bias",
                io.lseq.core.format.DType.F32, new int[] {16}, new float[16])));
        assertTrue(msg.contains("all four or none"), msg);
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        String msg = assertThrows(ModelFormatException.class, () -> Model.load(tmp.resolve("nope"))).getMessage();
        assertTrue(msg.contains("nope") && msg.contains("no such model directory"), msg);
        Path dir = model();
        Files.delete(dir.resolve("model.safetensors"));
        msg = assertThrows(ModelFormatException.class, () -> Model.load(dir)).getMessage();
        assertTrue(msg.contains("model.safetensors: no such file"), msg);
        Files.writeString(dir.resolve("config.json"), "{\"format\":\"lseq-model\",\"version\":1,\"name\":3}");
        msg = assertThrows(ModelFormatException.class, () -> Model.load(dir)).getMessage();
        assertTrue(msg.contains("config.json: field name: must be a string"), msg);
    }
}
