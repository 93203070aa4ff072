package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.opencl.OpenClBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spillway bench} sweeps. The first test is the CI bench: stories260K at two {@code -ngl}
 * values on PoCL, a few seconds, checking the JSON's fields.
 */
class BenchCommandTest {
    @TempDir
    Path dir;

    private static String model() {
        return TestModels.stories260K().toString();
    }

    private static boolean openCl() {
        return OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty();
    }

    @Test
    void ciSweepOverTwoOffloadSplitsOnPocl() throws Exception {
        assumeTrue(openCl(), "no OpenCL device here");
        CliTest.Run r = CliTest.run("bench", model(), "--device", "opencl", "-ngl", "0,-1", "-p", "16", "-n", "8", "-r", "1", "-t", "1",
                "-o", "json", "--chart", dir.resolve("charts").toString());
        assertEquals(0, r.code(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out());
        assertEquals(4, rows.size(), r.out());
        int[] ngl = {0, 0, -1, -1};
        String[] test = {"pp16", "tg8", "pp16", "tg8"};
        for (int i = 0; i < 4; i++) {
            JsonNode row = rows.get(i);
            assertEquals(ngl[i], row.get("n_gpu_layers").asInt(), row.toString());
            assertEquals(test[i], row.get("test").asText());
            assertTrue(row.get("avg_ts").asDouble() > 0, row.toString());
            assertEquals(1, row.get("samples_ts").size());
            for (String f : List.of("model_filename", "model_type", "model_size", "model_n_params", "n_threads", "type_k", "type_v",
                    "n_prompt", "n_gen", "stddev_ts", "avg_ns", "estimatedBytes", "allocatedBytes", "memorySource", "memoryBefore",
                    "memoryPeak", "memoryAfter", "memoryDelta", "rssPeak", "deviceLayers")) {
                assertTrue(row.hasNonNull(f), f + " in " + row);
            }
            assertEquals("process rss", row.get("memorySource").asText(), "PoCL's external reading is the process's resident set");
            assertTrue(row.get("memoryPeak").asLong() >= row.get("memoryBefore").asLong());
            assertTrue(row.get("memoryBefore").asLong() > 0);
        }
        JsonNode cpu = rows.get(0);
        assertEquals("cpu", cpu.get("device").asText());
        assertEquals(0, cpu.get("deviceLayers").asInt());
        assertEquals(0, cpu.get("estimatedBytes").asLong());
        assertEquals(0, cpu.get("allocatedBytes").asLong());
        for (JsonNode device : List.of(rows.get(2), rows.get(3))) {
            assertEquals("opencl:0", device.get("device").asText());
            assertEquals(5, device.get("deviceLayers").asInt());
            assertTrue(device.get("outputOnDevice").asBoolean());
            assertTrue(device.get("estimatedBytes").asLong() > 0);
            assertEquals(device.get("estimatedBytes").asLong(), device.get("allocatedBytes").asLong(),
                    "on PoCL the estimate is exact: " + device);
        }
        assertTrue(r.err().contains("charts in " + dir.resolve("charts")), r.err());
    }

    @Test
    void tableCsvMarkdownAndTheJsonFile() throws Exception {
        Path json = dir.resolve("b.json");
        CliTest.Run table = CliTest.run("bench", model(), "-ngl", "0", "-p", "8,4", "-n", "2", "-r", "2", "-t", "1", "-ctk", "f16,q8_0",
                "--json", json.toString());
        assertEquals(0, table.code(), table.err());
        List<String> lines = table.out().lines().toList();
        assertEquals(1 + 2 * 3, lines.size(), table.out());
        assertTrue(lines.getFirst().matches("model\\s+type\\s+ngl\\s+on dev\\s+t\\s+K/V\\s+test\\s+t/s\\s+estimated\\s+allocated\\s+memory\\s+before\\s+peak\\s+after\\s+Δ peak"),
                lines.getFirst());
        assertTrue(lines.get(1).matches("llama\\s+F32\\s+0\\s+0\\s+1\\s+f16/f16\\s+pp8\\s+[0-9.]+ ± [0-9.]+\\s+0 B\\s+0 B\\s+rss\\s+.*"), lines.get(1));
        assertTrue(lines.get(6).contains("q8_0/f16") && lines.get(6).contains(" tg2 "), lines.get(6));
        JsonNode rows = new ObjectMapper().readTree(json.toFile());
        assertEquals(6, rows.size());
        assertEquals("q8_0", rows.get(5).get("type_k").asText());

        CliTest.Run csv = CliTest.run("bench", model(), "-ngl", "0", "-p", "4", "-n", "0", "-r", "1", "-t", "1", "-o", "csv");
        assertEquals(0, csv.code(), csv.err());
        List<String> csvLines = csv.out().lines().toList();
        assertEquals(2, csvLines.size(), csv.out());
        List<String> header = List.of(csvLines.getFirst().split(","));
        assertEquals("model_filename", header.getFirst());
        assertTrue(header.containsAll(List.of("avg_ts", "stddev_ts", "n_gpu_layers", "estimatedBytes", "allocatedBytes", "memoryPeak")), header.toString());
        assertEquals(header.size(), csvLines.get(1).split(",", -1).length, csvLines.get(1));

        CliTest.Run md = CliTest.run("bench", model(), "-ngl", "0", "-p", "4", "-n", "0", "-r", "1", "-t", "1", "-o", "md");
        assertEquals(0, md.code(), md.err());
        List<String> mdLines = md.out().lines().toList();
        assertTrue(mdLines.get(0).startsWith("| model | type | ngl |"), md.out());
        assertTrue(mdLines.get(1).startsWith("| --- | --- | ---: |"), md.out());
        assertTrue(mdLines.get(2).contains("| pp4 |"), md.out());
    }

    @Test
    void badSweepValuesAreOneLineUsageErrors() {
        for (List<String> bad : List.of(List.of("-ngl", "0,foo"), List.of("-p", "0", "-n", "0"), List.of("-o", "xml"),
                List.of("-t", "1,-3"), List.of("-ctk", "f16,q5_1"), List.of("-r", "0"),
                List.of("--synthetic", "7b"))) {
            String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("bench", model()), bad.stream()).toArray(String[]::new);
            CliTest.Run r = CliTest.run(args);
            assertEquals(2, r.code(), bad + ": " + r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("spillway: error: "), r.err());
        }
        assertFalse(Files.exists(dir.resolve("x")));
    }
}
