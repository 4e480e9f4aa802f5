package io.lseq.gpu;

import io.lseq.core.testing.TestModels;
import java.nio.file.Path;

/**
 * Writes the larger random LRU model the GPU benchmarks also run (tools/gpu/prepare-device.sh):
 * H = 256, 4 blocks of N = 256 with GLU, V = 1024; random weights, so only its speed means anything.
 */
public final class WriteBenchModel {
    private WriteBenchModel() {}

    public static void main(String[] args) {
        if (args.length != 1) {
            System.out.println("usage: WriteBenchModel DIR");
            System.exit(2);
        }
        String block = "{\"mixer\":{\"type\":\"lru\",\"d_state\":256},\"post\":\"glu\"}";
        String json = "{\"format\":\"lseq-model\",\"version\":1,\"name\":\"bench-lru-h256\",\"d_model\":256,"
                + "\"input\":{\"type\":\"tokens\",\"vocab_size\":1024},\"norm\":\"layer\",\"blocks\":[" + block + ","
                + block + "," + block + "," + block + "],\"head\":{\"type\":\"next_token\",\"tie_embeddings\":false}}";
        System.out.println("wrote " + TestModels.writeRandom(Path.of(args[0]), json, 11));
    }
}
