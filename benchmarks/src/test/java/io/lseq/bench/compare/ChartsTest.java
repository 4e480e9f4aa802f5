package io.lseq.bench.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report's charts at their sizes, also for awkward data: NaN, one point, equal names, all zero. */
class ChartsTest {
    @TempDir
    Path tmp;

    @Test
    void linesAre820By440() throws IOException {
        double[] w = {16, 64, 256, 1024, 4096};
        Path f = tmp.resolve("sub/state-bytes.png");
        Charts.lines(f, "State bytes", "window W", "bytes per key", true, true, List.of(
                new Charts.Series("attention", w, new double[] {16652, 65804, 262412, 1048844, 4194572}),
                new Charts.Series("lru", w, new double[] {1804, 1804, 1804, 1804, Double.NaN}),
                new Charts.Series("lru", w, new double[] {780, 780, 780, 780, 780})));
        assertSize(f, 820, 440);
        Charts.lines(f, "AUC", "distance", "AUC", true, false, List.of(
                new Charts.Series("one point", new double[] {100}, new double[] {0.5})));
        assertSize(f, 820, 440);
        Charts.lines(f, "nothing", "x", "y", false, true, List.of(
                new Charts.Series("no finite point", new double[] {1, 2}, new double[] {Double.NaN, Double.NaN})));
        assertSize(f, 820, 440);
    }

    @Test
    void barsGrowWithTheirCount() throws IOException {
        Path f = tmp.resolve("streaming.png");
        Charts.bars(f, "Streaming", "events/s", List.of("gru", "lru", "gru"), new double[] {209745, 191141, 5}, "%,.0f");
        assertSize(f, 820, 90 + 46 * 3);
        Charts.bars(f, "Nothing measured", "events/s", List.of("gru"), new double[] {0}, "%,.0f");
        assertSize(f, 820, 90 + 46);
    }

    private static void assertSize(Path png, int width, int height) throws IOException {
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(width, img.getWidth());
        assertEquals(height, img.getHeight());
    }
}
