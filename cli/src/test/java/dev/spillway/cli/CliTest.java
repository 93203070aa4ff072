package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.opencl.OpenClBackend;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The command line end to end, in-process: exit codes, output and error messages. */
class CliTest {
    @TempDir
    Path dir;

    /** Exit code, stdout and stderr of one invocation. */
    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void runStreamsTheGreedyStoryAndReportsSpeed() {
        String model = TestModels.stories260K().toString();
        Run r = run("run", model, "Once upon a time", "--temp", "0", "-n", "24", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time, there was a little girl named Lily."), r.out());
        assertTrue(r.err().contains("tokens/s"), r.err());
        assertTrue(r.err().contains("stopped: token limit"), r.err());
    }

    @Test
    void aShortPromptGetsABatchOfItsLengthUnlessDashBSaysOtherwise() {
        assertEquals(18, RunCommand.promptBatch(512, "Once upon a time"));
        assertEquals(512, RunCommand.promptBatch(512, "x".repeat(600)));
        assertEquals(2 + 4, RunCommand.promptBatch(512, "\uD83D\uDE00")); // one emoji: 4 UTF-8 bytes, 4 byte tokens at most
        assertEquals(2, RunCommand.promptBatch(512, ""));
        String model = TestModels.stories260K().toString();
        Run plan = run("run", model, "Once upon a time", "--temp", "0", "-n", "24", "-v");
        assertEquals(0, plan.code(), plan.err());
        assertTrue(plan.err().contains("batch 18,"), plan.err());
        Run explicit = run("run", model, "Once upon a time", "--temp", "0", "-n", "24", "-v", "-b", "512");
        assertEquals(0, explicit.code(), explicit.err());
        assertTrue(explicit.err().contains("batch 512,"), explicit.err());
        assertEquals(explicit.out(), plan.out(), "the batch that holds the whole prompt changes nothing in the text");
        Run oneAtATime = run("run", model, "Once upon a time", "--temp", "0", "-n", "24", "-b", "1");
        assertEquals(0, oneAtATime.code(), oneAtATime.err());
    }

    @Test
    void warmupRunsItsTrainingWorkloadAndRejectsBadTypes() {
        Run r = run("warmup", "--types", "f32,q4_0", "-n", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("tokens/s"), r.err());
        Run bad = run("warmup", "--types", "nonsense");
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.err().contains("unknown or unsupported weight type 'nonsense'"), bad.err());
        assertEquals(2, run("warmup", "-n", "0").code());
        assertFalse(run("--help").out().contains("warmup"), "hidden from the help");
    }

    @Test
    void verboseRunPrintsPlacementAndMemory() {
        String model = TestModels.stories260K().toString();
        Run r = run("run", "-m", model, "-p", "Once", "--temp", "0", "-n", "4", "-v", "-ctk", "q8_0", "-ctv", "q4_0", "-c", "64");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("KV cache") && r.err().contains("/ 64 tokens used"), r.err());
    }

    @Test
    void infoPrintsShapeAndTensorTable() {
        Run r = run("info", TestModels.stories260K().toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("llama, 5 layers, n_embd 64, n_ff 172, 8 heads (4 KV, head dim 8), vocab 512"), r.out());
        assertTrue(r.out().matches("(?s).*blk\\.4\\.ffn_down\\.weight\\s+F32\\s+\\[172, 64\\].*"), r.out());
        assertTrue(r.out().contains("total     48 tensors"), r.out());
    }

    @Test
    void benchMeasuresPromptAndGenerationAndWritesJson() throws Exception {
        Path json = dir.resolve("bench.json");
        Run r = run("bench", TestModels.stories260K().toString(), "-p", "8", "-n", "4", "-r", "2", "-t", "1",
                "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.contains(" pp8 ")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.contains(" tg4 ")), r.out());
        var results = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
        assertEquals(2, results.size());
        for (var result : results) {
            assertTrue(result.get("avg_ts").asDouble() > 0, result.toString());
            assertEquals(1, result.get("n_threads").asInt());
            assertEquals(2, result.get("samples_ts").size());
        }
        assertEquals("F32", results.get(0).get("weightType").asText());
        assertEquals("pp8", results.get(0).get("test").asText());
        assertEquals(4, results.get(1).get("n_gen").asInt());
    }

    @Test
    void badFlagValuesAreUsageErrors() {
        Run r = run("run", "x.gguf", "hi", "--ctx-size", "many");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--ctx-size") && r.err().contains("many"), r.err());
        r = run("run", "x.gguf", "hi", "-ctk", "q5_1");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown KV cache type 'q5_1'"), r.err());
        r = run("run", "x.gguf", "hi", "--no-such-flag");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--no-such-flag"), r.err());
    }

    @Test
    void invalidValuesInRangeGiveOneLineErrors() {
        String model = TestModels.stories260K().toString();
        Run r = run("run", model, "hi", "--top-p", "1.5");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("spillway: error: ") && r.err().contains("top_p"), r.err());
        r = run("run", model, "hi", "-t", "-3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("threads"), r.err());
    }

    @Test
    void missingAndCorruptModelsNameTheProblem() throws Exception {
        Run r = run("run", dir.resolve("absent.gguf").toString(), "hi");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no such file") && r.err().contains("absent.gguf"), r.err());

        Path corrupt = dir.resolve("corrupt.gguf");
        byte[] good = Files.readAllBytes(TestModels.stories260K());
        Files.write(corrupt, java.util.Arrays.copyOf(good, 300));   // cut inside the metadata
        r = run("info", corrupt.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("corrupt.gguf") && r.err().contains("@ 0x"), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
    }

    @Test
    void devicesListsEveryDeviceAndOneReasonPerApiWithout() {
        Run r = run("devices");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).matches("device\\s+kind\\s+name\\s+vendor\\s+total\\s+free"), lines.get(0));
        assertTrue(lines.stream().anyMatch(l -> l.matches("cpu\\s+host\\s+\\d+ cores .*")), r.out());
        for (String api : List.of("cuda", "hip", "opencl", "tornado")) {
            long rows = lines.stream().filter(l -> l.startsWith(api + ":") && l.matches(api + ":\\d+\\s.*")).count();
            long reasons = lines.stream().filter(l -> l.startsWith(api + ": no devices: ")).count();
            assertTrue((rows > 0 && reasons == 0) || (rows == 0 && reasons == 1), api + ": devices or one reason:\n" + r.out());
        }
        if (OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty()) {
            String kind = OpenClBackend.devices().getFirst().kind().label();
            assertTrue(lines.stream().anyMatch(l -> l.matches("opencl:0\\s+" + kind + "\\s.*")), "PoCL's device is listed with its kind:\n" + r.out());
        }
        if (new CudaDevices().list().devices().isEmpty()) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("cuda: no devices: ")), r.out());
        }
    }

    /** Without the tornado module on its class path, TornadoVM is one line saying why, and naming it is a clear error. */
    @Test
    void tornadoWithoutItsModuleSaysWhy() {
        Run r = run("devices");
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("tornado: no devices: ")
                && (l.contains("TornadoVM is not installed (set TORNADOVM_HOME)") || l.contains("without Spillway's TornadoVM module"))), r.out());
        Run named = run("run", TestModels.stories260K().toString(), "Once", "-n", "2", "-t", "1", "--device", "tornado");
        assertEquals(1, named.code(), named.out() + named.err());
        assertTrue(named.err().contains("tornado") && named.err().contains("TornadoVM"), named.err());
        assertEquals(1, named.err().lines().count(), "one line: " + named.err());
    }

    @Test
    void offloadingToOpenClWritesTheCpuStory() {
        assumeTrue(OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty(), "no OpenCL device here");
        String model = TestModels.stories260K().toString();
        for (String ngl : List.of("-1", "3")) {
            Run r = run("run", model, "Once upon a time", "--temp", "0", "-n", "24", "-t", "1", "-ngl", ngl, "--device", "opencl", "-v");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().startsWith("Once upon a time, there was a little girl named Lily."), r.out());
            assertTrue(r.err().contains("opencl:0"), "the memory breakdown names the device backend: " + r.err());
        }
    }

    @Test
    void aMissingDeviceIsAOneLineErrorNamingItAndWhy() {
        assumeTrue(new CudaDevices().list().devices().isEmpty(), "this machine has a CUDA device");
        Run r = run("run", TestModels.stories260K().toString(), "hi", "-ngl", "3", "--device", "cuda");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("spillway: error: --device cuda: "), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("spillway: error:")).count(), r.err());
    }

    @Test
    void badDeviceFlagsAreUsageErrors() {
        Run r = run("run", "x.gguf", "hi", "-ngl", "3", "--device", "nonsense");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("invalid device 'nonsense'"), r.err());
        r = run("run", "x.gguf", "hi", "--device-memory", "lots");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("invalid size 'lots'"), r.err());
    }

    @Test
    void sizesTakeBinaryUnits() {
        assertEquals(2L << 30, ByteSize.parse("2GiB"));
        assertEquals(512L << 20, ByteSize.parse("512MiB"));
        assertEquals(3L << 29, ByteSize.parse("1.5g"));
        assertEquals(4096, ByteSize.parse("4096"));
        assertEquals(1L << 40, ByteSize.parse("1 TB"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("2 GiBs"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("99999999999T"));
    }

    @Test
    void deviceCheckComparesEveryWeightTypeWithTheCpu() {
        assumeTrue(OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty(), "no OpenCL device here");
        Run r = run("devices", "--check", "--device", "opencl", "-t", "1");
        assertEquals(0, r.code(), r.out() + r.err());
        for (String type : List.of("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K")) {
            assertTrue(r.out().matches("(?s).*\\nopencl:0\\s+" + type + " all layers\\s+max error \\S+\\s+ok\\n.*"), type + ":\n" + r.out());
        }
        assertTrue(r.out().contains("11 comparisons, 0 failed"), r.out());
    }

    @Test
    void deviceCheckOfAMissingDeviceIsAnError() {
        assumeTrue(new CudaDevices().list().devices().isEmpty(), "this machine has a CUDA device");
        Run r = run("devices", "--check", "--device", "cuda");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("spillway: error: --device cuda: "), r.err());
    }

    @Test
    void verboseRunPrintsThePlanTheReportAndMeasuredBesideEstimated() {
        assumeTrue(OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty(), "no OpenCL device here");
        String model = TestModels.stories260K().toString();
        Run r = run("run", model, "Once", "--temp", "0", "-n", "4", "-t", "1", "--device", "opencl", "-ngl", "-1", "-v");
        assertEquals(0, r.code(), r.err());
        List<String> err = r.err().lines().toList();
        assertTrue(err.contains("spillway: plan"), r.err());
        assertTrue(err.stream().anyMatch(l -> l.matches("0-4\\s+opencl:0\\s+5\\s.*")), "layer ranges: " + r.err());
        assertTrue(err.stream().anyMatch(l -> l.matches("opencl:0\\s.*\\syes")), "the device's estimate row: " + r.err());
        assertTrue(err.contains("spillway: offload: all 5 layers and the output head on opencl:0"), r.err());
        assertTrue(err.stream().anyMatch(l -> l.matches("spillway: opencl:0: measured \\S+ \\S+, estimated \\S+ \\S+ \\([+-]\\d+\\.\\d %\\)")),
                "measured beside estimated: " + r.err());
        assertEquals(1, err.stream().filter(l -> l.startsWith("layers ")).count(), "the plan table once (not also logged): " + r.err());
        assertTrue(r.err().indexOf("spillway: memory") > r.err().indexOf("stopped:"), "memory breakdown after generation: " + r.err());

        Run quiet = run("run", model, "Once", "--temp", "0", "-n", "4", "-t", "1", "--device", "opencl", "-ngl", "-1");
        assertEquals(0, quiet.code(), quiet.err());
        assertFalse(quiet.err().contains("offload:") || quiet.err().contains("spillway: plan"), "no fallback, no report: " + quiet.err());
    }

    @Test
    void aFallbackIsReportedInOneLineOrRefusedWithNoFallback() {
        assumeTrue(OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty(), "no OpenCL device here");
        String model = TestModels.stories260K().toString();
        // -ngl -1 asks for everything; 3 MiB of device memory holds only part of it (with -b 512's activations).
        Run r = run("run", model, "Once", "--temp", "0", "-n", "4", "-t", "1", "-b", "512", "--device", "opencl", "-ngl", "-1",
                "--device-memory", "3MiB");
        assertEquals(0, r.code(), r.err());
        List<String> report = r.err().lines().filter(l -> l.contains("offload:")).toList();
        assertEquals(1, report.size(), r.err());
        assertTrue(report.getFirst().matches("spillway: offload: asked for all 5 layers and the output head on opencl:0; out of memory on opencl:0 at .*"
                + "; loaded with [0-4] layers? on the device after \\d+ attempts"), report.getFirst());
        assertTrue(r.out().startsWith("Once"), r.out());

        Run strict = run("run", model, "Once", "-n", "4", "-t", "1", "-b", "512", "--device", "opencl", "-ngl", "-1",
                "--device-memory", "3MiB", "--no-fallback");
        assertEquals(1, strict.code(), strict.err());
        List<String> errors = strict.err().lines().filter(l -> l.startsWith("spillway: error: ")).toList();
        assertEquals(1, errors.size(), strict.err());
        assertTrue(errors.getFirst().contains("out of memory on opencl:0") && errors.getFirst().contains("--no-fallback"), strict.err());
        assertFalse(strict.err().contains("\tat ") || strict.err().contains("Exception"), "no stack trace: " + strict.err());
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aContextTooLargeForMemoryIsRefusedAtOnceInOneLine() {
        long t0 = System.nanoTime();
        Run r = run("run", TestModels.stories260K().toString(), "-c", "100000000", "-n", "4", "-t", "1");
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        String line = r.err().strip();
        assertTrue(line.startsWith("spillway: error: "), line);
        assertTrue(line.contains("GiB") && line.contains("budget") && line.contains("smaller -c"), "bytes, budget and the fix: " + line);
        assertFalse(line.contains("Exception"), line);
        assertTrue(millis < 10_000, "refused at once, not after " + millis + " ms");
    }

    @Test
    void memoryExceptionsDescribeThemselvesInOneLine() {
        var limit = new dev.spillway.api.MemoryLimitException("host", "KV cache", 3L << 30, 0, 1L << 30,
                "host: refused 3.00 GiB of KV cache: the budget is 1.00 GiB");
        assertEquals("host: refused 3.00 GiB of KV cache: the budget is 1.00 GiB", Errors.describe(limit));
        var device = new dev.spillway.engine.backend.BackendMemoryException("cuda:0", 1L << 20, "cuda:0: out of memory\n\u001b[31m");
        assertEquals(1, Errors.describe(device).lines().count(), Errors.describe(device));
    }
}
