package io.lseq.bench.compare;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.geom.Ellipse2D;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.text.NumberFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.StandardChartTheme;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.DefaultDrawingSupplier;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.Range;
import org.jfree.data.category.CategoryDataset;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.general.DatasetUtils;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The comparison report's PNG charts (JFreeChart, headless): lines over a numeric x axis, and horizontal bars. */
final class Charts {
    static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0x17becf)};
    private static final int WIDTH = 820;
    private static final int HEIGHT = 440;
    private static final StandardChartTheme THEME = new StandardChartTheme("lseq");

    static {
        THEME.setExtraLargeFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        THEME.setLargeFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        THEME.setRegularFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        THEME.setChartBackgroundPaint(Color.WHITE);
        THEME.setPlotBackgroundPaint(Color.WHITE);
        THEME.setDomainGridlinePaint(new Color(0xc8c8c8));
        THEME.setRangeGridlinePaint(new Color(0xc8c8c8));
        THEME.setBarPainter(new StandardBarPainter());
        THEME.setShadowVisible(false);
        THEME.setDrawingSupplier(new DefaultDrawingSupplier(PALETTE, DefaultDrawingSupplier.DEFAULT_FILL_PAINT_SEQUENCE,
                DefaultDrawingSupplier.DEFAULT_OUTLINE_PAINT_SEQUENCE, new BasicStroke[] {new BasicStroke(2.2f)},
                DefaultDrawingSupplier.DEFAULT_OUTLINE_STROKE_SEQUENCE, new Ellipse2D.Double[] {
                    new Ellipse2D.Double(-4, -4, 8, 8)}));
    }

    /** One line: a name and its points, x ascending. */
    record Series(String name, double[] x, double[] y) {}

    private Charts() {}

    /** A line chart; {@code logX}/{@code logY} use base-2/base-10 logarithmic axes. Points with a y of NaN are left out. */
    static void lines(Path file, String title, String xLabel, String yLabel, boolean logX, boolean logY,
            List<Series> series) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        List<String> names = distinct(series.stream().map(Series::name).toList());
        for (Series s : series) {
            XYSeries xy = new XYSeries(names.get(data.getSeriesCount()), false, true);
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    xy.add(s.x()[i], s.y()[i]);
                }
            }
            data.addSeries(xy);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data);
        XYPlot plot = chart.getXYPlot();
        plot.setRenderer(new XYLineAndShapeRenderer(true, true));
        if (logX) {
            plot.setDomainAxis(logAxis(xLabel, 2, DatasetUtils.findDomainBounds(data, false)));
        }
        if (logY) {
            plot.setRangeAxis(logAxis(yLabel, 10, DatasetUtils.findRangeBounds(data, false)));
        }
        save(chart, file, HEIGHT);
    }

    /** Horizontal bars, one per label, with the value printed at the end of each. */
    static void bars(Path file, String title, String xLabel, List<String> labels, double[] values, String format)
            throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        List<String> names = distinct(labels);
        for (int i = 0; i < labels.size(); i++) {
            data.addValue(values[i], "", names.get(i));
        }
        JFreeChart chart = ChartFactory.createBarChart(title, null, xLabel, data, PlotOrientation.HORIZONTAL, false,
                false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        BarRenderer bars = new BarRenderer() {
            @Override
            public Paint getItemPaint(int row, int column) {
                return PALETTE[column % PALETTE.length];
            }
        };
        bars.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator() {
            @Override
            public String generateLabel(CategoryDataset d, int row, int column) {
                return String.format(Locale.ROOT, format, d.getValue(row, column).doubleValue());
            }
        });
        bars.setDefaultItemLabelsVisible(true);
        bars.setItemLabelInsets(new RectangleInsets(0, 6, 0, 0));
        bars.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.OUTSIDE3, TextAnchor.CENTER_LEFT));
        plot.setRenderer(bars);
        plot.setRangeAxisLocation(AxisLocation.BOTTOM_OR_LEFT);
        plot.getRangeAxis().setUpperMargin(0.15); // room for the value labels
        if (Arrays.stream(values).allMatch(v -> v == 0)) {
            plot.getRangeAxis().setRange(0, 1);
        }
        save(chart, file, 90 + 46 * labels.size());
    }

    /**
     * A logarithmic axis from the power of {@code base} at or below the data to the one at or above it (at least one
     * apart), with a tick at each power: 16, 32, ..., 4,096 or 100, 1K, ..., 10M.
     */
    private static ValueAxis logAxis(String label, int base, Range data) {
        LogAxis axis = new LogAxis(label);
        axis.setBase(base);
        if (data != null && data.getLowerBound() > 0) {
            double lo = Math.floor(axis.calculateLog(data.getLowerBound()) + 1e-9);
            double hi = Math.max(Math.ceil(axis.calculateLog(data.getUpperBound()) - 1e-9), lo + 1);
            double margin = (hi - lo) * 0.03; // so that points on the first and last power are not cut
            axis.setRange(axis.calculateValue(lo - margin), axis.calculateValue(hi + margin));
        }
        axis.setTickUnit(new NumberTickUnit(1));
        axis.setNumberFormatOverride(base == 10 ? NumberFormat.getCompactNumberInstance(Locale.ROOT,
                NumberFormat.Style.SHORT) : new DecimalFormat("#,##0", DecimalFormatSymbols.getInstance(Locale.ROOT)));
        return axis;
    }

    /** The names, a repeated one with " (2)", " (3)", ... added: JFreeChart would merge or refuse equal keys. */
    private static List<String> distinct(List<String> names) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            String k = n;
            for (int i = 2; out.contains(k); i++) {
                k = n + " (" + i + ")";
            }
            out.add(k);
        }
        return out;
    }

    private static void save(JFreeChart chart, Path file, int height) throws IOException {
        THEME.apply(chart);
        if (chart.getLegend() != null) {
            chart.getLegend().setPosition(RectangleEdge.RIGHT);
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, height);
    }
}
