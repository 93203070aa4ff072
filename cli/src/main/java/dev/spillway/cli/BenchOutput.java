package dev.spillway.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spillway.api.MemoryInfo;
import dev.spillway.offload.metrics.Reading;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench}'s output formats: a readable table (default) and markdown, printed a row at a time as
 * the tests finish; CSV (a header and a row per test) and JSON (an array of objects, at the end), with
 * {@link BenchResult#fields()}' names.
 */
final class BenchOutput {
    enum Format {
        TABLE, JSON, CSV, MD;

        static Format parse(String s) {
            for (Format f : values()) {
                if (f.name().equalsIgnoreCase(s.strip())) {
                    return f;
                }
            }
            throw new IllegalArgumentException("output format (-o) must be table, json, csv or md, got '" + s + "'");
        }
    }

    private static final String[] HEADER = {"model", "type", "ngl", "on dev", "t", "K/V", "test", "t/s", "estimated", "allocated",
            "memory", "before", "peak", "after", "Δ peak", "util %", "W"};
    private static final int[] WIDTH = {24, 5, 4, 6, 2, 9, 6, 18, 10, 10, 11, 11, 11, 11, 12, 6, 6};

    private final Format format;
    private final PrintWriter out;
    private final boolean gpuColumns;
    private final List<BenchResult> results = new ArrayList<>();
    private boolean headerDone;

    /** @param gpuColumns whether to show utilization and power (a device tool or library is read) */
    BenchOutput(Format format, PrintWriter out, boolean gpuColumns) {
        this.format = format;
        this.out = out;
        this.gpuColumns = gpuColumns;
    }

    /** Prints {@code r} now (table, md, csv) or keeps it for {@link #finish} (json). */
    void add(BenchResult r) {
        results.add(r);
        switch (format) {
            case TABLE -> {
                header(() -> out.println(tableLine(HEADER)));
                out.println(tableLine(cells(r)));
            }
            case MD -> {
                header(() -> {
                    out.println(mdLine(HEADER));
                    String[] rule = new String[columns()];
                    for (int i = 0; i < rule.length; i++) {
                        rule[i] = i <= 1 || i == 5 || i == 6 || i == 10 ? "---" : "---:";
                    }
                    out.println(mdLine(rule));
                });
                out.println(mdLine(cells(r)));
            }
            case CSV -> {
                header(() -> out.println(String.join(",", BenchResult.names(r))));
                out.println(String.join(",", r.fields().values().stream().map(BenchOutput::csv).toList()));
            }
            case JSON -> {
            }
        }
        out.flush();
    }

    /** The JSON array of every result so far. */
    String json() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(results.stream().map(BenchResult::fields).toList());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    void finish() {
        if (format == Format.JSON) {
            out.println(json());
            out.flush();
        }
    }

    List<BenchResult> results() {
        return List.copyOf(results);
    }

    private void header(Runnable print) {
        if (!headerDone) {
            headerDone = true;
            print.run();
        }
    }

    private int columns() {
        return gpuColumns ? HEADER.length : HEADER.length - 2;
    }

    /** The table's cells for one result. */
    String[] cells(BenchResult r) {
        BenchPlan.Stats ts = r.ts();
        Reading peak = r.memory().peak();
        String[] c = {
                r.model(), r.weightType(), r.benchCase().gpuLayersLabel(),
                r.deviceLayers() + (r.outputOnDevice() ? "+o" : ""), Integer.toString(r.threads()),
                BenchPlan.typeName(r.benchCase().keyType()) + "/" + BenchPlan.typeName(r.benchCase().valueType()),
                r.test().name(), String.format(Locale.ROOT, "%.2f ± %.2f", ts.mean(), ts.stddev()),
                human(r.estimatedBytes()), human(r.allocatedBytes()), shortSource(r.memory().source()),
                human(used(r.memory().before())), human(used(peak)), human(used(r.memory().after())),
                r.memory().before() == null || peak == null ? "-" : signed(r.memory().deltaBytes()),
                peak == null || Double.isNaN(peak.utilizationPercent()) ? "-" : String.format(Locale.ROOT, "%.0f", peak.utilizationPercent()),
                peak == null || Double.isNaN(peak.powerWatts()) ? "-" : String.format(Locale.ROOT, "%.0f", peak.powerWatts())};
        return java.util.Arrays.copyOf(c, columns());
    }

    private String tableLine(String[] cells) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < columns(); i++) {
            // Only the model name is shortened; a figure wider than its column widens the line instead of losing digits.
            String cell = i == 0 ? abbreviate(cells[i], WIDTH[i]) : cells[i];
            boolean left = i <= 1 || i == 5 || i == 6 || i == 10;
            if (i > 0) {
                b.append(' ');
            }
            b.append(left ? String.format("%-" + WIDTH[i] + "s", cell) : String.format("%" + WIDTH[i] + "s", cell));
        }
        return b.toString().stripTrailing();
    }

    private String mdLine(String[] cells) {
        return "| " + String.join(" | ", java.util.Arrays.copyOf(cells, columns())) + " |";
    }

    private static String shortSource(String source) {
        return source.startsWith("process rss") ? "rss" : source.split(" ")[0];
    }

    private static long used(Reading r) {
        return r == null ? -1 : r.usedBytes();
    }

    private static String human(long bytes) {
        return bytes < 0 ? "-" : MemoryInfo.human(bytes);
    }

    private static String signed(long bytes) {
        return bytes < 0 ? "-" + MemoryInfo.human(-bytes) : "+" + MemoryInfo.human(bytes);
    }

    private static String abbreviate(String s, int width) {
        return s.length() <= width ? s : "…" + s.substring(s.length() - width + 1);
    }

    static String csv(Object v) {
        if (v == null) {
            return "";
        }
        String s = v instanceof List<?> l ? String.join(";", l.stream().map(String::valueOf).toList()) : String.valueOf(v);
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    /** For tests: the fields of every result. */
    List<Map<String, Object>> rows() {
        return results.stream().map(BenchResult::fields).toList();
    }
}
