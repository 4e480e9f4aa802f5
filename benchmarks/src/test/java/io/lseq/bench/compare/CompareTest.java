package io.lseq.bench.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The comparison report's measures, and one small run of the whole report. */
class CompareTest {
    @TempDir
    Path tmp;

    @Test
    void aucCountsPairsAndHalfTies() {
        assertEquals(1.0, Quality.auc(new double[] {3, 4}, new double[] {1, 2}));
        assertEquals(0.0, Quality.auc(new double[] {1}, new double[] {2, 3}));
        assertEquals(0.5, Quality.auc(new double[] {1, 1}, new double[] {1}));
        // pairs (p, n): (2,1) win, (2,3) loss, (4,1) win, (4,3) win -> 3 of 4
        assertEquals(0.75, Quality.auc(new double[] {2, 4}, new double[] {1, 3}));
        assertTrue(Double.isNaN(Quality.auc(new double[0], new double[] {1})));
    }

    @Test
    void stateBytesGrowWithTheWindowOnlyForAttention() throws Exception {
        Path root = root();
        Path attention = root.resolve("examples/models/reference-attention");
        String config = Files.readString(attention.resolve("config.json"));
        byte[] weights = Files.readAllBytes(attention.resolve("model.safetensors"));
        Model w16 = Model.load(Compare.withWindow(config, 16), weights, attention.toString());
        Model w64 = Model.load(Compare.withWindow(config, 64), weights, attention.toString());
        long b16 = Compare.serializedBytes(w16);
        long b64 = Compare.serializedBytes(w64);
        // 48 more window slots of keys and values, float32, for each attention block
        int blocks = (int) w16.config().blocks().stream().filter(b -> b.mixer().type().equals("attention")).count();
        assertEquals(48L * 2 * w16.config().dModel() * 4 * blocks, b64 - b16);
        double heap = Compare.heapBytesPerKey(w64);
        assertTrue(heap > b64 * 0.9 && heap < b64 * 1.5, "heap per key " + heap + " vs serialized " + b64);
    }

    @Test
    void writesTheReportAndCharts() throws Exception {
        Path root = root();
        Path events = Files.createDirectories(tmp.resolve("events"));
        SplittableRandom rnd = new SplittableRandom(1);
        for (int d : new int[] {8, 32}) {
            List<String> lines = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                for (int t = 0; t < d + 4; t++) {
                    String id = t < d ? "" : ",\"id\":\"" + (t % 2 == 0 ? "normal-" : "anomaly-") + k + "-" + t + "\"";
                    lines.add("{\"key\":\"k" + k + "\",\"token\":" + rnd.nextInt(512) + id + "}");
                }
            }
            Files.write(events.resolve("distance-" + d + ".jsonl"), lines);
        }
        Compare c = new Compare();
        c.parse(new String[] {"--models", root.resolve("examples/models/reference-lru") + ","
                + root.resolve("examples/models/reference-attention"), "--events", events.toString(), "--out",
            tmp.resolve("COMPARISON.md").toString(), "--charts", tmp.resolve("charts").toString(), "--stream-events",
            "2000", "--keys", "10", "--rounds", "1", "--backfill-keys", "4", "--backfill-length", "64", "--windows",
            "16,64", "--quality-windows", "16,64", "--long-key", "512", "--switch-events", events.toString(),
            "--switch-models", root.resolve("examples/models/reference-lru").toString()});
        c.run();
        String md = Files.readString(tmp.resolve("COMPARISON.md"));
        for (String section : new String[] {"## State bytes per key", "## Streaming events/s per core",
            "## Backfill tokens/s on CPU", "## Quality on the long-range task", "| reference-lru |", "d=32",
            "## One long key: backfill of 1 x 512 events", "## Attention windows at inference", "reference-attention W=16",
            "## Quality on the switch task", "## Which to choose", "- On the long-range task (d = 8 .. 32)"}) {
            assertTrue(md.contains(section), section + " in\n" + md);
        }
        for (String png : new String[] {"state-bytes", "streaming", "backfill", "surprisal", "auc", "auc-switch",
            "surprisal-switch", "quality-vs-state"}) {
            byte[] b = Files.readAllBytes(tmp.resolve("charts").resolve(png + ".png"));
            assertTrue(b.length > 1000 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G', png);
        }
    }

    private static Path root() {
        Path p = Paths.get("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("examples/models"))) {
            p = p.getParent();
        }
        return p;
    }
}
