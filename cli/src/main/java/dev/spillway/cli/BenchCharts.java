package dev.spillway.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Paint;
import java.awt.geom.Rectangle2D;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.ToLongFunction;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.text.TextUtils;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * {@code spillway bench --chart DIR}: line charts of speed and memory against the number of offloaded
 * layers, as PNG and SVG.
 *
 * <p>Library: JFreeChart draws the charts and JFreeSVG (same maintainers) turns the drawing into SVG.
 * XChart was tried first: it is smaller (0.4 MB against 1.6 MB), but it draws every label as glyph
 * outlines, so its SVG is about seven times larger and holds no text (titles, legend and axis labels
 * cannot be searched, selected or checked); JFreeChart writes them as SVG {@code <text>}.
 *
 * <p>For each model and type, in the order they first appear in the points:
 * <ul>
 *   <li>{@code NAME-speed.png/.svg}: tokens/s, one series per test ({@code pp t/s}, {@code tg t/s});</li>
 *   <li>{@code NAME-memory.png/.svg}: MiB, series {@code estimated}, {@code allocated} and
 *       {@code measured}; a series with no known value is left out, and the chart too when none has one.</li>
 * </ul>
 * NAME is {@code model-type} (just the model when the type is empty) with every character other than
 * letters, digits, {@code .}, {@code _} and {@code -} replaced by {@code _}; names that come out the same
 * get {@code -2}, {@code -3}, ...
 *
 * <p>Several points at the same model, type, layer count and test (cases that differ in something a
 * point does not carry, e.g. KV-cache type or threads) become one point: the mean of their tokens/s,
 * and for each kind of memory the largest known value (what the device has to hold). A caller that
 * wants them apart gives them different types, e.g. {@code q4_0 kv=q8_0}, and so separate charts.
 */
final class BenchCharts {
    static final int WIDTH = 900;
    static final int HEIGHT = 560;
    static final String X_LABEL = "Offloaded layers";
    static final String SPEED_LABEL = "Tokens/s";
    static final String MEMORY_LABEL = "Memory (MiB)";

    private static final double MIB = 1024.0 * 1024.0;
    private static final Color[] SPEED_COLORS = {new Color(0x1f77b4), new Color(0xff7f0e)};
    private static final Color[] MEMORY_COLORS = {new Color(0x7f7f7f), new Color(0x2ca02c), new Color(0xd62728)};

    private BenchCharts() {
    }

    /** The points of one model and type. */
    private record Group(String model, String type, List<BenchPoint> points) {
    }

    /**
     * Writes the charts of {@code points} into {@code dir} (created if needed; files there of the same
     * names are replaced) and returns the files written: per model and type, speed PNG and SVG, then
     * memory PNG and SVG. No points, no files.
     */
    static List<Path> write(List<BenchPoint> points, Path dir) throws IOException {
        Objects.requireNonNull(points, "points");
        Objects.requireNonNull(dir, "dir");
        List<Path> written = new ArrayList<>();
        if (points.isEmpty()) {
            return written;
        }
        // The CLI runs without a display; the property only counts before AWT first starts.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        // Rotated text (the y axis label) through drawString, so that the SVG holds it as <text> and
        // not as glyph outlines. The workaround was for JDK 1.4-era bugs.
        TextUtils.setUseDrawRotatedStringWorkaround(false);
        Map<List<String>, Group> groups = new LinkedHashMap<>();
        for (BenchPoint p : points) {
            Objects.requireNonNull(p, "point");
            groups.computeIfAbsent(List.of(p.model(), p.type()), k -> new Group(p.model(), p.type(), new ArrayList<>()))
                    .points().add(p);
        }
        Files.createDirectories(dir);
        Set<String> names = new HashSet<>();
        for (Group g : groups.values()) {
            String name = uniqueName(fileName(g.type().isEmpty() ? g.model() : g.model() + "-" + g.type()), names);
            String label = g.type().isEmpty() ? g.model() : g.model() + " " + g.type();
            writeBoth(speedChart(label, g.points()), dir, name + "-speed", written);
            JFreeChart memory = memoryChart(label, g.points());
            if (memory != null) {
                writeBoth(memory, dir, name + "-memory", written);
            }
        }
        return List.copyOf(written);
    }

    /**
     * {@code s} as a file name: every character but ASCII letters, digits, '.', '_' and '-' becomes '_', as do
     * runs of dots and a leading dot; runs of '_' become one; at most 120 characters.
     */
    static String fileName(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> {
            boolean ok = c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '_' || c == '-');
            b.append(ok ? (char) c : '_');
        });
        String name = b.toString().replaceAll("\\.{2,}", "_").replaceFirst("^\\.", "_").replaceAll("_{2,}", "_");
        if (name.length() > 120) {
            name = name.substring(0, 120);
        }
        return name.isEmpty() ? "model" : name;
    }

    private static String uniqueName(String base, Set<String> taken) {
        String name = base;
        for (int i = 2; !taken.add(name.toLowerCase(java.util.Locale.ROOT)); i++) {
            name = base + "-" + i;
        }
        return name;
    }

    static JFreeChart speedChart(String label, List<BenchPoint> points) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (String test : List.of("pp", "tg")) {
            Map<Integer, double[]> sums = new TreeMap<>(); // layers -> {sum, count}
            for (BenchPoint p : points) {
                if (p.test().equals(test)) {
                    double[] s = sums.computeIfAbsent(p.deviceLayers(), k -> new double[2]);
                    s[0] += p.tokensPerSecond();
                    s[1]++;
                }
            }
            if (!sums.isEmpty()) {
                XYSeries series = new XYSeries(test + " t/s");
                sums.forEach((layers, s) -> series.add(layers.doubleValue(), s[0] / s[1]));
                data.addSeries(series);
            }
        }
        return chart(label + ": speed by offloaded layers", SPEED_LABEL, data, points, SPEED_COLORS);
    }

    /** The memory chart, or null when no point knows any of its memory figures. */
    static JFreeChart memoryChart(String label, List<BenchPoint> points) {
        XYSeriesCollection data = new XYSeriesCollection();
        List<Color> colors = new ArrayList<>();
        addMemorySeries(data, colors, "estimated", points, BenchPoint::estimatedBytes, MEMORY_COLORS[0]);
        addMemorySeries(data, colors, "allocated", points, BenchPoint::allocatedBytes, MEMORY_COLORS[1]);
        addMemorySeries(data, colors, "measured", points, BenchPoint::measuredBytes, MEMORY_COLORS[2]);
        if (data.getSeriesCount() == 0) {
            return null;
        }
        return chart(label + ": memory by offloaded layers", MEMORY_LABEL, data, points, colors.toArray(Color[]::new));
    }

    private static void addMemorySeries(XYSeriesCollection data, List<Color> colors, String name, List<BenchPoint> points,
                                        ToLongFunction<BenchPoint> bytes, Color color) {
        Map<Integer, Long> largest = new TreeMap<>();
        for (BenchPoint p : points) {
            long b = bytes.applyAsLong(p);
            if (b != BenchPoint.UNKNOWN) {
                largest.merge(p.deviceLayers(), b, Math::max);
            }
        }
        if (!largest.isEmpty()) {
            XYSeries series = new XYSeries(name);
            largest.forEach((layers, b) -> series.add(layers.doubleValue(), b / MIB));
            data.addSeries(series);
            colors.add(color);
        }
    }

    private static JFreeChart chart(String title, String yLabel, XYSeriesCollection data, List<BenchPoint> points,
                                    Paint[] colors) {
        JFreeChart chart = ChartFactory.createXYLineChart(title, X_LABEL, yLabel, data, PlotOrientation.VERTICAL,
                true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.getLegend().setPosition(RectangleEdge.BOTTOM);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        plot.setOutlinePaint(new Color(0xaaaaaa));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            renderer.setSeriesPaint(i, colors[i]);
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(renderer);
        // Whole layers only, a little room at both ends, and no negative tick left of 0.
        NumberAxis x = (NumberAxis) plot.getDomainAxis();
        x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        int lo = points.stream().mapToInt(BenchPoint::deviceLayers).min().orElseThrow();
        int hi = points.stream().mapToInt(BenchPoint::deviceLayers).max().orElseThrow();
        double pad = Math.max(0.5, (hi - lo) * 0.03);
        x.setRange(lo - pad, hi + pad);
        NumberAxis y = (NumberAxis) plot.getRangeAxis();
        y.setAutoRangeIncludesZero(true);
        return chart;
    }

    private static void writeBoth(JFreeChart chart, Path dir, String name, List<Path> written) throws IOException {
        Path png = dir.resolve(name + ".png");
        try (OutputStream out = Files.newOutputStream(png)) {
            ChartUtils.writeChartAsPNG(out, chart, WIDTH, HEIGHT);
        }
        written.add(png);
        SVGGraphics2D g = new SVGGraphics2D(WIDTH, HEIGHT);
        // Ids from the file name, not the clock: the same points give the same file, and two charts
        // inlined into one page keep their clip paths apart.
        g.setDefsKeyPrefix(name + "-");
        chart.draw(g, new Rectangle2D.Double(0, 0, WIDTH, HEIGHT));
        Path svg = dir.resolve(name + ".svg");
        Files.writeString(svg, g.getSVGDocument(), StandardCharsets.UTF_8);
        written.add(svg);
    }
}
