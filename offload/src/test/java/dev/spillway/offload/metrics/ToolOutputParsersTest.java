package dev.spillway.offload.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The nvidia-smi and rocm-smi parsers on recorded outputs (test resources). No GPU was at hand when
 * these were written: the samples are written by hand from the tools' documented formats (see the
 * resources' README.md), so they pin the documented shapes, not one driver's quirks.
 */
class ToolOutputParsersTest {
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    static String sample(String name) throws IOException {
        try (InputStream in = ToolOutputParsersTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void nvidiaSmiOneGpu() throws IOException {
        NvidiaSmi.Parsed p = NvidiaSmi.parse(sample("nvidia-smi-1gpu.csv"), 0);
        assertNull(p.error());
        assertEquals(List.of(new Reading(1234 * MIB, 24564 * MIB, 37, 71.52)), p.readings());
    }

    @Test
    void nvidiaSmiSeveralGpusInOrder() throws IOException {
        NvidiaSmi.Parsed p = NvidiaSmi.parse(sample("nvidia-smi-4gpu.csv"), 0);
        assertEquals(4, p.readings().size());
        assertEquals(81037 * MIB, p.readings().get(0).usedBytes());
        assertEquals(398.21, p.readings().get(0).powerWatts());
        assertEquals(3 * MIB, p.readings().get(1).usedBytes());
        assertEquals(56, p.readings().get(2).utilizationPercent());
        assertEquals(81559 * MIB, p.readings().get(3).totalBytes());
    }

    /** A warning line beside the readings (stderr is merged into the output) does not lose them. */
    @Test
    void nvidiaSmiWarningsBesideReadingsAreSkipped() throws IOException {
        String output = "WARNING: infoROM is corrupted at gpu 0000:01:00.0\n" + sample("nvidia-smi-1gpu.csv");
        NvidiaSmi.Parsed p = NvidiaSmi.parse(output, 0);
        assertNull(p.error());
        assertEquals(List.of(new Reading(1234 * MIB, 24564 * MIB, 37, 71.52)), p.readings());
    }

    @Test
    void nvidiaSmiNotAvailableFieldsAreNaN() throws IOException {
        Reading r = NvidiaSmi.parse(sample("nvidia-smi-na.csv"), 0).readings().getFirst();
        assertEquals(512 * MIB, r.usedBytes());
        assertTrue(Double.isNaN(r.utilizationPercent()) && Double.isNaN(r.powerWatts()), r.toString());
    }

    @Test
    void nvidiaSmiComplaintsBecomeOneLineReasons() throws IOException {
        NvidiaSmi.Parsed none = NvidiaSmi.parse(sample("nvidia-smi-no-devices.txt"), 6);
        assertTrue(none.readings().isEmpty());
        assertEquals("nvidia-smi: No devices were found (exit 6)", none.error());
        NvidiaSmi.Parsed driver = NvidiaSmi.parse(sample("nvidia-smi-no-driver.txt"), 9);
        assertTrue(driver.error().startsWith("nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate"), driver.error());
        assertFalse(driver.error().contains("\n"));
        assertTrue(NvidiaSmi.parse("", 0).error().contains("no output"));
        assertTrue(NvidiaSmi.parse("[N/A], 8192, 1, 2\n", 0).error().contains("memory not readable"));
    }

    @Test
    void nvidiaSmiProbeRunsTheDocumentedQueryForOneGpu() throws IOException {
        String out = sample("nvidia-smi-1gpu.csv");
        List<List<String>> ran = new java.util.ArrayList<>();
        NvidiaSmi probe = new NvidiaSmi(cmd -> {
            ran.add(cmd);
            return new CommandRunner.Result(0, out, null);
        }, "1");
        assertEquals(1234 * MIB, probe.read().orElseThrow().usedBytes());
        assertEquals(List.of("nvidia-smi", "--query-gpu=memory.used,memory.total,utilization.gpu,power.draw",
                "--format=csv,noheader,nounits", "-i", "1"), ran.getFirst());
        assertEquals("nvidia-smi -i 1", probe.source());
    }

    @Test
    void rocmSmiOneAndTwoCards() throws IOException {
        RocmSmiTool.Parsed one = RocmSmiTool.parse(sample("rocm-smi-1gpu.json"));
        assertNull(one.error());
        assertEquals(Map.of("card0", Reading.memory(10850304, 17163091968L)), one.cards());
        RocmSmiTool.Parsed two = RocmSmiTool.parse(sample("rocm-smi-2gpu.json"));
        assertEquals(List.of("card0", "card1"), List.copyOf(two.cards().keySet()));
        assertEquals(6979584, two.cards().get("card1").usedBytes());
        assertTrue(Double.isNaN(two.cards().get("card1").powerWatts()), "vram mode has no power");
        RocmSmiTool probe = new RocmSmiTool(cmd -> new CommandRunner.Result(0, sample2(), null), 1);
        assertEquals(6979584, probe.read().orElseThrow().usedBytes());
        RocmSmiTool missing = new RocmSmiTool(cmd -> new CommandRunner.Result(0, sample2(), null), 2);
        assertTrue(missing.read().isEmpty());
        assertEquals("rocm-smi: no card2 in [card0, card1]", missing.reason().orElseThrow());
    }

    private static String sample2() {
        try {
            return sample("rocm-smi-2gpu.json");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void rocmSmiErrorsBecomeReasons() throws IOException {
        assertEquals("rocm-smi: ERROR:root:Driver not initialized (amdgpu not found in modules)",
                RocmSmiTool.parse(sample("rocm-smi-no-driver.txt")).error());
        RocmSmiTool.Parsed none = RocmSmiTool.parse(sample("rocm-smi-no-gpus.txt"));
        assertTrue(none.cards().isEmpty());
        assertTrue(none.error().startsWith("rocm-smi: no card with VRAM readings"), none.error());
        assertTrue(RocmSmiTool.parse("{\"card0\": ").error().startsWith("rocm-smi: output is not JSON"));
        assertTrue(RocmSmiTool.parse("").error().contains("no output"));
    }

    @Test
    void aMissingToolIsAReasonNotAnException() {
        CommandRunner system = CommandRunner.system(Duration.ofSeconds(5));
        CommandRunner.Result r = system.run(List.of("spillway-no-such-tool-" + ProcessHandle.current().pid()));
        assertFalse(r.ran());
        assertTrue(r.failure().endsWith("command not found"), r.failure());
        NvidiaSmi probe = new NvidiaSmi(cmd -> system.run(List.of("spillway-no-such-nvidia-smi")), "0");
        assertTrue(probe.read().isEmpty());
        assertEquals("spillway-no-such-nvidia-smi: command not found", probe.reason().orElseThrow());
    }

    @Test
    void aToolThatHangsIsKilledAtTheTimeout() {
        long t0 = System.nanoTime();
        CommandRunner.Result r = CommandRunner.system(Duration.ofMillis(300)).run(List.of("sleep", "30"));
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "did not wait for the tool");
        assertEquals("sleep did not answer within 300 ms", r.failure());
        CommandRunner.Result ok = CommandRunner.system(Duration.ofSeconds(5)).run(List.of("sh", "-c", "echo out; echo err >&2; exit 3"));
        assertEquals(3, ok.exitCode());
        assertEquals("out\nerr\n", ok.output());
    }

    @Test
    void processResidentSetFromProcStatus() throws IOException {
        Path status = dir.resolve("status");
        Path meminfo = dir.resolve("meminfo");
        Files.writeString(status, "Name:\tjava\nVmPeak:\t 9999 kB\nVmRSS:\t  204800 kB\nThreads:\t12\n");
        Files.writeString(meminfo, "MemTotal:       16384000 kB\nMemFree: 1 kB\n");
        ProcessMemory p = new ProcessMemory(status, meminfo);
        assertEquals(Reading.memory(204800L * 1024, 16384000L * 1024), p.read().orElseThrow());
        Files.writeString(status, "Name:\tjava\n");
        assertTrue(p.read().isEmpty());
        assertTrue(p.reason().orElseThrow().startsWith("no VmRSS line"));
        if (Files.exists(Path.of("/proc/self/status"))) {
            assertTrue(new ProcessMemory().read().orElseThrow().usedBytes() > 1 << 20, "this JVM's resident set");
        }
    }
}
