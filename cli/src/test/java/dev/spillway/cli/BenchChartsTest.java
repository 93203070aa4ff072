package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

/** {@link BenchCharts} and {@link BenchPoint}: the files, what is in them, and the points they accept. */
class BenchChartsTest {
    private static final long MIB = 1024 * 1024;
    private static final long UNKNOWN = BenchPoint.UNKNOWN;

    private static BenchPoint point(String model, String type, int layers, String test, double tps,
                                    long estMib, long allocMib, long measMib) {
        return new BenchPoint(model, type, layers, test, tps, bytes(estMib), bytes(allocMib), bytes(measMib));
    }

    private static long bytes(long mib) {
        return mib < 0 ? UNKNOWN : mib * MIB;
    }

    /** A sweep of -ngl 0,11,22 for "tiny/llama" q4_0 with every memory figure, and a CPU-only q8_0 without any. */
    private static List<BenchPoint> sweep() {
        List<BenchPoint> points = new ArrayList<>();
        int[] layers = {0, 11, 22};
        for (int i = 0; i < layers.length; i++) {
            long est = 40 + 300L * i;
            points.add(point("tiny/llama", "q4_0", layers[i], "pp", 120 + 200.0 * i, est, est - 10, est + 60));
            points.add(point("tiny/llama", "q4_0", layers[i], "tg", 15 + 20.0 * i, est, est - 10, est + 60));
        }
        points.add(point("cpu model", "q8_0", 0, "pp", 90, -1, -1, -1));
        points.add(point("cpu model", "q8_0", 0, "tg", 9, -1, -1, -1));
        return points;
    }

    @Test
    void writesSpeedAndMemoryChartsPerModelAndTypeInStableOrder(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("charts/nested");
        List<Path> files = BenchCharts.write(sweep(), dir);
        List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
        // The second model has no memory figure: no memory chart for it.
        assertEquals(List.of("tiny_llama-q4_0-speed.png", "tiny_llama-q4_0-speed.svg",
                "tiny_llama-q4_0-memory.png", "tiny_llama-q4_0-memory.svg",
                "cpu_model-q8_0-speed.png", "cpu_model-q8_0-speed.svg"), names);
        for (Path f : files) {
            assertEquals(dir, f.getParent());
            assertTrue(Files.size(f) > 1000, f + " is " + Files.size(f) + " bytes");
        }
        String svg = Files.readString(files.get(1));
        assertEquals(files, BenchCharts.write(sweep(), dir), "same input, same files");
        assertEquals(svg, Files.readString(files.get(1)), "same input, same SVG");
    }

    @Test
    void pngsDecodeAtTheChartSizeAndShowTheSeries(@TempDir Path tmp) throws IOException {
        List<Path> files = BenchCharts.write(sweep(), tmp);
        for (Path f : files) {
            if (!f.toString().endsWith(".png")) {
                continue;
            }
            BufferedImage image = ImageIO.read(f.toFile());
            assertNotNull(image, f + " does not decode");
            assertEquals(BenchCharts.WIDTH, image.getWidth());
            assertEquals(BenchCharts.HEIGHT, image.getHeight());
            int background = image.getRGB(0, 0);
            int other = 0;
            for (int y = 0; y < image.getHeight(); y++) {
                for (int x = 0; x < image.getWidth(); x++) {
                    if (image.getRGB(x, y) != background) {
                        other++;
                    }
                }
            }
            assertTrue(other > image.getWidth() * image.getHeight() / 100, f + ": only " + other + " drawn pixels");
        }
        // The lines are drawn in their series' colours: pp blue and tg orange on the speed chart.
        BufferedImage speed = ImageIO.read(tmp.resolve("tiny_llama-q4_0-speed.png").toFile());
        assertTrue(count(speed, 0x1f77b4) > 200, "pp line");
        assertTrue(count(speed, 0xff7f0e) > 200, "tg line");
        BufferedImage memory = ImageIO.read(tmp.resolve("tiny_llama-q4_0-memory.png").toFile());
        assertTrue(count(memory, 0xd62728) > 200, "measured line");
    }

    private static int count(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void svgsAreSvgDocumentsWithTitlesAxisLabelsAndSeriesNames(@TempDir Path tmp) throws Exception {
        BenchCharts.write(sweep(), tmp);
        List<String> speed = svgTexts(tmp.resolve("tiny_llama-q4_0-speed.svg"));
        for (String s : List.of("tiny/llama q4_0: speed by offloaded layers", BenchCharts.X_LABEL,
                BenchCharts.SPEED_LABEL, "pp t/s", "tg t/s")) {
            assertTrue(speed.contains(s), s + " not in " + speed);
        }
        assertFalse(speed.contains("estimated"));
        List<String> memory = svgTexts(tmp.resolve("tiny_llama-q4_0-memory.svg"));
        for (String s : List.of("tiny/llama q4_0: memory by offloaded layers", BenchCharts.X_LABEL,
                BenchCharts.MEMORY_LABEL, "estimated", "allocated", "measured")) {
            assertTrue(memory.contains(s), s + " not in " + memory);
        }
        // Whole layers on the x axis, none below 0.
        assertTrue(speed.contains("22"));
        assertFalse(speed.contains("-1"), speed.toString());
        assertFalse(speed.contains("10.5"), speed.toString());
    }

    /** The text of every SVG {@code <text>} element, after checking that the root is {@code <svg>}. */
    private static List<String> svgTexts(Path svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        // JFreeSVG declares the SVG 1.0 DTD; parse without fetching it.
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        Document doc = f.newDocumentBuilder().parse(svg.toFile());
        assertEquals("svg", doc.getDocumentElement().getLocalName());
        assertEquals("http://www.w3.org/2000/svg", doc.getDocumentElement().getNamespaceURI());
        NodeList texts = doc.getElementsByTagNameNS("*", "text");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < texts.getLength(); i++) {
            out.add(texts.item(i).getTextContent().trim());
        }
        return out;
    }

    @Test
    void repeatedCasesAreAveragedAndMemoryKeepsTheLargestKnownValue() {
        List<BenchPoint> points = List.of(
                point("m", "q4_0", 5, "tg", 10, 100, -1, 300),
                point("m", "q4_0", 5, "tg", 30, 120, -1, -1),
                point("m", "q4_0", 0, "tg", 4, -1, -1, 50),
                point("m", "q4_0", 5, "pp", 200, -1, -1, 280));
        XYSeriesCollection speed = data(BenchCharts.speedChart("m", points));
        assertEquals(2, speed.getSeriesCount());
        XYSeries pp = speed.getSeries("pp t/s");
        assertEquals(1, pp.getItemCount());
        assertEquals(200.0, pp.getY(0).doubleValue());
        XYSeries tg = speed.getSeries("tg t/s");
        assertEquals(List.of(0.0, 5.0), List.of(tg.getX(0).doubleValue(), tg.getX(1).doubleValue()));
        assertEquals(4.0, tg.getY(0).doubleValue());
        assertEquals(20.0, tg.getY(1).doubleValue(), "mean of 10 and 30");

        XYSeriesCollection memory = data(BenchCharts.memoryChart("m", points));
        // allocated is unknown everywhere: no series.
        assertEquals(List.of("estimated", "measured"),
                List.of(memory.getSeriesKey(0).toString(), memory.getSeriesKey(1).toString()));
        XYSeries est = memory.getSeries("estimated");
        assertEquals(1, est.getItemCount(), "-1 left out at 0 layers");
        assertEquals(120.0, est.getY(0).doubleValue(), "MiB, the largest");
        XYSeries meas = memory.getSeries("measured");
        assertEquals(50.0, meas.getY(0).doubleValue());
        assertEquals(300.0, meas.getY(1).doubleValue());

        assertNull(BenchCharts.memoryChart("m", List.of(point("m", "", 0, "pp", 1, -1, -1, -1))));
    }

    private static XYSeriesCollection data(JFreeChart chart) {
        return (XYSeriesCollection) chart.getXYPlot().getDataset();
    }

    @Test
    void emptyInputWritesNothing(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("none");
        assertEquals(List.of(), BenchCharts.write(List.of(), dir));
        assertFalse(Files.exists(dir));
    }

    @Test
    void badPointsAreRejected() {
        assertThrows(NullPointerException.class, () -> new BenchPoint(null, "q4_0", 0, "pp", 1, 0, 0, 0));
        assertThrows(NullPointerException.class, () -> new BenchPoint("m", null, 0, "pp", 1, 0, 0, 0));
        assertThrows(NullPointerException.class, () -> new BenchPoint("m", "q4_0", 0, null, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint(" ", "q4_0", 0, "pp", 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "pg", 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "PP", 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", -1, "pp", 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "tg", -1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "tg", Double.NaN, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "tg", 1, -2, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "tg", 1, 0, -2, 0));
        assertThrows(IllegalArgumentException.class, () -> new BenchPoint("m", "q4_0", 0, "tg", 1, 0, 0, Long.MIN_VALUE));
        // -1 (unknown) and 0 are fine.
        new BenchPoint("m", "", 0, "tg", 0, -1, -1, 0);
        assertThrows(NullPointerException.class, () -> BenchCharts.write(null, Path.of(".")));
        List<BenchPoint> withNull = new ArrayList<>();
        withNull.add(null);
        assertThrows(NullPointerException.class, () -> BenchCharts.write(withNull, Path.of(".")));
    }

    @Test
    void fileNamesAreSanitizedAndKeptApart(@TempDir Path tmp) throws IOException {
        assertEquals("tiny_llama-q4_0", BenchCharts.fileName("tiny/llama-q4_0"));
        assertEquals("_evil", BenchCharts.fileName("../evil"));
        assertEquals("_hidden", BenchCharts.fileName(".hidden"));
        assertEquals("a_b_c.gguf", BenchCharts.fileName("a:b* \\c.gguf"));
        assertEquals("caf_", BenchCharts.fileName("café"));
        assertEquals("model", BenchCharts.fileName(""));
        assertEquals(120, BenchCharts.fileName("x".repeat(500)).length());

        List<BenchPoint> points = List.of(
                point("../../etc/passwd", "", 0, "pp", 1, -1, -1, -1),
                point("a/b", "q4_0", 0, "pp", 1, -1, -1, -1),
                point("a:b", "q4_0", 0, "pp", 1, -1, -1, -1),
                point("A_B", "Q4_0", 0, "pp", 1, -1, -1, -1));
        List<Path> files = BenchCharts.write(points, tmp);
        List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
        assertEquals(List.of("_etc_passwd-speed.png", "_etc_passwd-speed.svg",
                "a_b-q4_0-speed.png", "a_b-q4_0-speed.svg",
                "a_b-q4_0-2-speed.png", "a_b-q4_0-2-speed.svg",
                "A_B-Q4_0-3-speed.png", "A_B-Q4_0-3-speed.svg"), names);
        for (Path f : files) {
            assertEquals(tmp, f.getParent());
            assertTrue(Files.isRegularFile(f));
        }
        try (var listing = Files.list(tmp)) {
            assertEquals(files.size(), listing.count());
        }
    }
}
