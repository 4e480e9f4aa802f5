package io.lseq.bench.compare;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Small PNG charts for the comparison report, drawn with Java2D (headless): lines over a numeric
 * x axis, and horizontal bars. No charting library: the report needs two shapes, and a
 * dependency for them would outweigh this class.
 */
final class Charts {
    static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0x17becf)};
    private static final int WIDTH = 820;
    private static final int HEIGHT = 440;
    private static final int LEFT = 90;
    private static final int RIGHT = 250;
    private static final int TOP = 44;
    private static final int BOTTOM = 60;

    /** One line: a name and its points, x ascending. */
    record Series(String name, double[] x, double[] y) {}

    private Charts() {}

    /** A line chart; {@code logX}/{@code logY} use base-2/base-10 logarithmic axes. */
    static void lines(Path file, String title, String xLabel, String yLabel, boolean logX, boolean logY,
            List<Series> series) throws IOException {
        double x0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY;
        double y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                x0 = Math.min(x0, s.x()[i]);
                x1 = Math.max(x1, s.x()[i]);
                if (Double.isFinite(s.y()[i])) {
                    y0 = Math.min(y0, s.y()[i]);
                    y1 = Math.max(y1, s.y()[i]);
                }
            }
        }
        Axis ax = new Axis(x0, x1, logX, 2, false);
        Axis ay = new Axis(logY ? y0 : Math.min(0, y0), y1, logY, 10, true);
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = frame(img, title, xLabel, yLabel, ax, ay);
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            g.setColor(PALETTE[k % PALETTE.length]);
            g.setStroke(new BasicStroke(2.2f));
            Path2D.Double p = new Path2D.Double();
            boolean started = false;
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) {
                    continue;
                }
                double px = ax.toPixel(s.x()[i], LEFT, WIDTH - RIGHT);
                double py = ay.toPixel(s.y()[i], HEIGHT - BOTTOM, TOP);
                if (started) {
                    p.lineTo(px, py);
                } else {
                    p.moveTo(px, py);
                    started = true;
                }
                g.fillOval((int) px - 4, (int) py - 4, 8, 8);
            }
            g.draw(p);
            legend(g, k, s.name());
        }
        write(img, g, file);
    }

    /** Horizontal bars, one per label, with the value printed at the end of each. */
    static void bars(Path file, String title, String xLabel, List<String> labels, double[] values, String format)
            throws IOException {
        BufferedImage img = new BufferedImage(WIDTH, 90 + 46 * labels.size(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        prepare(g, img);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, 16, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        double max = 0;
        for (double v : values) {
            max = Math.max(max, v);
        }
        int left = 200;
        int right = WIDTH - 130;
        for (int i = 0; i < labels.size(); i++) {
            int y = 50 + 46 * i;
            g.setColor(Color.DARK_GRAY);
            g.drawString(labels.get(i), 16, y + 20);
            int w = max > 0 ? (int) Math.round((right - left) * values[i] / max) : 0;
            g.setColor(PALETTE[i % PALETTE.length]);
            g.fillRect(left, y + 4, Math.max(w, 1), 26);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, format, values[i]), left + w + 8, y + 22);
        }
        g.drawString(xLabel, left, img.getHeight() - 12);
        write(img, g, file);
    }

    private static Graphics2D frame(BufferedImage img, String title, String xLabel, String yLabel, Axis ax, Axis ay) {
        Graphics2D g = img.createGraphics();
        prepare(g, img);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, LEFT, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        FontMetrics fm = g.getFontMetrics();
        int xa = LEFT;
        int xb = WIDTH - RIGHT;
        int ya = HEIGHT - BOTTOM;
        int yb = TOP;
        for (double t : ax.ticks()) {
            int px = (int) ax.toPixel(t, xa, xb);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(px, ya, px, yb);
            g.setColor(Color.DARK_GRAY);
            String s = ax.label(t);
            g.drawString(s, px - fm.stringWidth(s) / 2, ya + 18);
        }
        for (double t : ay.ticks()) {
            int py = (int) ay.toPixel(t, ya, yb);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(xa, py, xb, py);
            g.setColor(Color.DARK_GRAY);
            String s = ay.label(t);
            g.drawString(s, xa - 8 - fm.stringWidth(s), py + 4);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(xa, yb, xb - xa, ya - yb);
        g.drawString(xLabel, (xa + xb) / 2 - fm.stringWidth(xLabel) / 2, HEIGHT - 16);
        Graphics2D r = (Graphics2D) g.create();
        r.rotate(-Math.PI / 2);
        r.drawString(yLabel, -(ya + yb) / 2 - fm.stringWidth(yLabel) / 2, 20);
        r.dispose();
        return g;
    }

    private static void legend(Graphics2D g, int k, String name) {
        int x = WIDTH - RIGHT + 16;
        int y = TOP + 8 + 22 * k;
        g.fillRect(x, y, 18, 4);
        g.setColor(Color.DARK_GRAY);
        g.drawString(name, x + 26, y + 6);
    }

    private static void prepare(Graphics2D g, BufferedImage img) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.DARK_GRAY);
    }

    private static void write(BufferedImage img, Graphics2D g, Path file) throws IOException {
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    /** A linear or logarithmic axis with readable ticks. */
    private record Axis(double lo, double hi, boolean log, int base, boolean vertical) {
        Axis {
            if (hi <= lo) {
                hi = lo + (log ? lo : 1);
                if (hi <= lo) {
                    hi = lo + 1;
                }
            }
            if (log) {
                double l = Math.log(base);
                lo = Math.pow(base, Math.floor(Math.log(lo) / l + 1e-9));
                hi = Math.pow(base, Math.ceil(Math.log(hi) / l - 1e-9));
            } else {
                double step = niceStep((hi - lo) / 5);
                lo = Math.floor(lo / step) * step;
                hi = Math.ceil(hi / step) * step;
            }
        }

        double toPixel(double v, double a, double b) {
            double f = log ? (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : (v - lo) / (hi - lo);
            return a + f * (b - a);
        }

        List<Double> ticks() {
            List<Double> t = new ArrayList<>();
            if (log) {
                double v = Math.pow(base, Math.floor(Math.log(lo) / Math.log(base) + 1e-9));
                for (; v <= hi * (1 + 1e-9); v *= base) {
                    if (v >= lo * (1 - 1e-9)) {
                        t.add(v);
                    }
                }
            } else {
                double step = niceStep((hi - lo) / 5);
                for (double v = lo; v <= hi + step / 2; v += step) {
                    t.add(Math.abs(v) < step * 1e-9 ? 0 : v);
                }
            }
            return t;
        }

        String label(double v) {
            double a = Math.abs(v);
            if (a >= 1e6 && a == Math.rint(a)) {
                return String.format(Locale.ROOT, "%.3gM", v / 1e6);
            }
            if (a >= 1e4 && a == Math.rint(a)) {
                return String.format(Locale.ROOT, "%.3gk", v / 1e3);
            }
            return a == Math.rint(a) ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3g", v);
        }

        private static double niceStep(double raw) {
            double p = Math.pow(10, Math.floor(Math.log10(raw)));
            double f = raw / p;
            return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
        }
    }
}
