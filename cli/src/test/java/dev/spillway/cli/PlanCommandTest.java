package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.api.ContextParams;
import dev.spillway.api.ModelParams;
import dev.spillway.cli.CliTest.Run;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.Devices;
import dev.spillway.offload.opencl.OpenClBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** {@code spillway plan}: the table, the JSON and the flags it shares with {@code run} and {@code bench}. */
class PlanCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String model() {
        return TestModels.stories260K().toString();
    }

    private static JsonNode planJson(String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("plan", model(), "--json"));
        args.addAll(List.of(flags));
        Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return JSON.readTree(r.out());
    }

    /** Automatic choice finds no GPU here, so {@code --device-memory} plans for the hypothetical {@code device}. */
    private static void assumeNoAutomaticDevice() {
        assumeTrue(Devices.standard().choose(DeviceRequest.AUTO, new ArrayList<>()).isEmpty(),
                "a GPU is here: -ngl auto plans for it, not for a hypothetical device");
    }

    private static void assumeOpenCl() {
        assumeTrue(OpenClBackend.unavailableReason().isEmpty() && !OpenClBackend.devices().isEmpty(), "no OpenCL device here");
    }

    @Test
    void tableShowsLayerRangesTheHostAndReasons() {
        Run r = CliTest.run("plan", model(), "-ngl", "0", "-c", "256");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s)layers\\s+backend\\s+count\\s+weights\\s+KV cache\\n0-4\\s+cpu\\s+5\\s.*"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("output\\s+cpu\\s+-\\s.*")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("host\\s+.*\\syes")), r.out());
        assertTrue(r.out().contains("context 256 tokens x 1, batch 256"), "the plan reserves the -c context: " + r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("- ")), "reasons: " + r.out());
        assertEquals("", r.err());
    }

    @Test
    void jsonHasEveryFieldWithConsistentNumbers() throws Exception {
        assumeNoAutomaticDevice();
        JsonNode plan = planJson("--device-memory", "64MiB", "-ngl", "auto", "-c", "512", "-b", "128", "-ctk", "q8_0", "-np", "2");
        assertEquals("auto", plan.get("request").asText());
        assertEquals(5, plan.get("layerCount").asInt());
        assertEquals(6, plan.get("deviceUnits").asInt(), "5 layers and the output head fit in 64 MiB: " + plan);
        assertTrue(plan.get("fits").asBoolean());
        assertEquals(2, plan.get("parallel").asInt());
        JsonNode context = plan.get("context");
        assertEquals(512, context.get("contextSize").asInt());
        assertEquals(128, context.get("batchSize").asInt());
        assertEquals("Q8_0", context.get("keyType").asText());
        assertEquals("F16", context.get("valueType").asText());
        assertTrue(plan.get("reasons").size() > 0, plan.toString());

        assertEquals(1, plan.get("devices").size(), plan.toString());
        JsonNode device = plan.get("devices").get(0);
        assertEquals("device", device.get("id").asText());
        assertEquals(5, device.get("layerCount").asInt());
        assertTrue(device.get("output").asBoolean());
        assertTrue(device.get("fits").asBoolean());
        assertEquals(64L << 20, device.get("budgetBytes").asLong());
        assertEquals((64L << 20) / 20, device.get("marginBytes").asLong(), "default fit target: 5 % of the budget");
        for (String field : List.of("runtimeBytes", "ruleOfThumbBytes", "freeBytes", "availableBytes")) {
            assertTrue(device.has(field), field);
        }
        assertEquals(device.get("weightBytes").asLong() + device.get("kvCacheBytes").asLong()
                + device.get("activationBytes").asLong() + device.get("scratchBytes").asLong(), device.get("estimatedBytes").asLong());
        assertTrue(device.get("estimatedBytes").asLong() <= device.get("availableBytes").asLong());

        JsonNode layers = plan.get("layers");
        assertEquals(5, layers.size());
        long kv = 0;
        long weights = 0;
        for (int i = 0; i < layers.size(); i++) {
            assertEquals(i, layers.get(i).get("index").asInt());
            assertEquals("device", layers.get(i).get("backend").asText());
            kv += layers.get(i).get("kvBytes").asLong();
            weights += layers.get(i).get("weightBytes").asLong();
        }
        JsonNode output = plan.get("output");
        assertEquals(-1, output.get("index").asInt());
        assertEquals("device", output.get("backend").asText());
        assertTrue(kv > 0);
        assertEquals(device.get("kvCacheBytes").asLong(), kv, "per-layer KV caches add up to the device's");
        assertEquals(device.get("weightBytes").asLong(), weights + output.get("weightBytes").asLong(),
                "per-layer weights and the output head's add up to the device's");

        JsonNode host = plan.get("host");
        assertEquals(host.get("weightBytes").asLong() + host.get("kvCacheBytes").asLong() + host.get("activationBytes").asLong()
                + host.get("scratchBytes").asLong(), host.get("estimatedBytes").asLong());
        assertEquals(0, host.get("kvCacheBytes").asLong(), "no layer on the host");
        for (String field : List.of("budgetBytes", "availableBytes", "fits")) {
            assertTrue(host.has(field), field);
        }
    }

    @Test
    void autoOffloadGrowsWithTheHypotheticalDevicesMemory() throws Exception {
        assumeNoAutomaticDevice();
        int previous = -1;
        List<Integer> units = new ArrayList<>();
        for (String size : List.of("1MiB", "2MiB", "2.5MiB", "3MiB", "4MiB", "8MiB", "64MiB")) {
            JsonNode plan = planJson("--device-memory", size);
            assertEquals("device", plan.get("devices").get(0).get("id").asText(), size);
            int n = plan.get("deviceUnits").asInt();
            assertTrue(n >= previous, "auto never offloads less with more memory: " + units + " then " + n + " at " + size);
            assertTrue(plan.get("fits").asBoolean(), "auto only plans what fits: " + plan);
            units.add(n);
            previous = n;
        }
        assertTrue(units.getFirst() < 6, "1 MiB holds fewer than every layer and the output head: " + units);
        assertEquals(6, units.getLast(), units.toString());
        Set<Integer> distinct = new TreeSet<>(units);
        assertTrue(distinct.size() > 2, "partial offloads in between: " + units);
    }

    @Test
    void noDeviceMeansEveryLayerOnTheCpu() throws Exception {
        assumeNoAutomaticDevice();
        JsonNode plan = planJson();
        assertEquals(0, plan.get("deviceUnits").asInt());
        assertEquals(0, plan.get("devices").size(), plan.toString());
        for (JsonNode l : plan.get("layers")) {
            assertEquals("cpu", l.get("backend").asText());
        }
        assertTrue(plan.get("host").get("kvCacheBytes").asLong() > 0);
    }

    @Test
    void gpuLayersTakeAutoAllMinusOneAndCounts() throws Exception {
        assumeNoAutomaticDevice();
        assertEquals("auto", planJson("--device-memory", "64MiB").get("request").asText(), "auto is the default");
        for (String ngl : List.of("auto", "all", "-1", "99", "2", "0")) {
            JsonNode plan = planJson("--device-memory", "64MiB", "-ngl", ngl);
            int expected = switch (ngl) {
                case "2" -> 2;
                case "0" -> 0;
                default -> 6;
            };
            assertEquals(expected, plan.get("deviceUnits").asInt(), "-ngl " + ngl + ": " + plan);
        }
        JsonNode two = planJson("--device-memory", "64MiB", "-ngl", "2");
        assertEquals("cpu", two.get("layers").get(2).get("backend").asText(), "-ngl 2 = the last two layers");
        assertEquals("device", two.get("layers").get(3).get("backend").asText());
        assertEquals("cpu", two.get("output").get("backend").asText(), "the output head only when every layer is offloaded");

        assertEquals(ModelParams.AUTO, new ModelOptions.GpuLayersConverter().convert("AUTO"));
        assertEquals(ModelParams.ALL_LAYERS, new ModelOptions.GpuLayersConverter().convert("all"));
        assertEquals(ModelParams.ALL_LAYERS, new ModelOptions.GpuLayersConverter().convert("-1"));
        assertEquals(7, new ModelOptions.GpuLayersConverter().convert("7"));
        for (String bad : List.of("foo", "-2", "1.5", "")) {
            assertThrows(TypeConversionException.class, () -> new ModelOptions.GpuLayersConverter().convert(bad), bad);
        }
    }

    @Test
    void planAndBenchTakeTheSharedFlags() {
        assertEquals(2, CliTest.run("plan").code(), "plan needs a model");
        Run r = CliTest.run("bench", model(), "-ngl", "foo");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("gpu layers (-ngl)"), r.err());
        r = CliTest.run("bench", model(), "-ngl", "auto", "-p", "4", "-n", "2", "-r", "1", "-t", "1", "--fit-target", "1MiB", "-np", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.contains(" tg2 ")), r.out());
    }

    @Test
    void helpStatesTheDefaultsInLlamaCppTerms() {
        Run r = CliTest.run("plan", "--help");
        assertEquals(0, r.code(), r.err());
        String help = r.out().replaceAll("\\s+", " ");
        assertTrue(help.contains("Default: 5 % of the device's budget, at most 256MiB."), help);
        assertTrue(help.contains("the last N; N above the layer count, -1 or all = every layer and the output head"), help);
        assertTrue(help.contains("Default: auto."), help);
    }

    @Test
    void tensorSplitIsACommaListOfShares() {
        assertEquals(List.of(3.0, 1.0), new ModelOptions.TensorSplitConverter().convert("3,1").shares());
        assertEquals(List.of(0.0, 2.5), new ModelOptions.TensorSplitConverter().convert("0, 2.5").shares());
        Run r = CliTest.run("plan", model(), "-ts", "3,1", "-ngl", "0");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void flagsReachTheModelParams() {
        ModelOptions o = new ModelOptions();
        picocli.CommandLine cl = new picocli.CommandLine(o);
        cl.parseArgs("-ngl", "all", "-dev", "opencl:0,opencl:1", "-ts", "3,1", "--max-memory", "2GiB", "--fit-target", "64MiB",
                "--no-fallback", "-np", "3");
        var planned = ContextParams.defaults().withContextSize(4096).withMaxCacheTokens(100);
        var p = o.toParams(planned);
        assertEquals(ModelParams.ALL_LAYERS, p.gpuLayers());
        assertEquals("opencl:0,opencl:1", p.device());
        assertEquals(List.of(3.0, 1.0), p.tensorSplit());
        assertEquals(2L << 30, p.maxMemory());
        assertEquals(64L << 20, p.margin());
        assertTrue(p.strict());
        assertEquals(3, p.parallel());
        assertEquals(planned, p.plannedContext());

        var defaults = new ModelOptions().toParams(ContextParams.defaults());
        assertEquals(ModelParams.AUTO, defaults.gpuLayers());
        assertEquals(-1, defaults.margin(), "default fit target");
        assertFalse(defaults.strict());

        ContextOptions c = new ContextOptions();
        new picocli.CommandLine(c).parseArgs("--max-cache-tokens", "300");
        assertEquals(300, c.toParams().maxCacheTokens());
    }

    @Test
    void openClDeviceTakesTheLastLayers() throws Exception {
        assumeOpenCl();
        JsonNode plan = planJson("--device", "opencl", "-ngl", "3");
        assertEquals("3", plan.get("request").asText());
        assertEquals(3, plan.get("deviceUnits").asInt());
        JsonNode device = plan.get("devices").get(0);
        assertEquals("opencl:0", device.get("id").asText());
        assertEquals(3, device.get("layerCount").asInt());
        assertFalse(device.get("output").asBoolean());
        for (int i = 0; i < 5; i++) {
            assertEquals(i < 2 ? "cpu" : "opencl:0", plan.get("layers").get(i).get("backend").asText(), "layer " + i);
        }
        Run r = CliTest.run("plan", model(), "--device", "opencl", "-ngl", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("2-4\\s+opencl:0\\s+3\\s.*")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("opencl:0\\s.*\\syes")), r.out());
    }
}
