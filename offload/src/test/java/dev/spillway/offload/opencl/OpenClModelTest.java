package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.Logits;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.device.DeviceBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole engine on OpenCL: synthetic models (2 layers, n_embd 256, 4 heads of 64 over 2 KV heads)
 * in every weight type with every layer and the output head on the device, and split placements,
 * give the logits the CPU gives for the same file.
 *
 * <p>Tolerance: every logit within {@value #TOLERANCE} of the CPU's, relative to the largest CPU
 * logit. Both backends decode the same weights and quantize the KV cache with the same rules; what
 * remains is float summation order (and exp/sqrt in the last bits).
 */
class OpenClModelTest {
    static final double TOLERANCE = 2e-4;
    static final int[] PROMPT = {1, 17, 250, 3, 299, 42, 8};
    static final int[] NEXT = {100, 7, 7, 260};

    @TempDir
    static Path dir;
    static DeviceBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        device = OpenClTestSupport.backend();
        cpu = new CpuBackend(new CpuBackend.Options(2).withExact(true));   // the device multiplies unrounded activations
    }

    @AfterAll
    static void close() {
        if (device != null) {
            assertEquals(0, device.allocatedBytes(), "models and contexts closed: nothing left on the device");
            device.close();
        }
        if (cpu != null) {
            cpu.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void everyLayerOnOpenClMatchesTheCpu(GgmlType type) throws Exception {
        Path file = TestModels.write(TestModels.tiny(type), dir);
        compare(file, GgmlType.F32, n -> all(n, device), device, type + " on opencl");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0", "Q4_0"})
    void quantizedKvCachesMatchTheCpu(GgmlType cache) throws Exception {
        Path file = TestModels.write(TestModels.tiny(GgmlType.Q8_0), dir);
        compare(file, cache, n -> all(n, device), device, "Q8_0 with a " + cache + " cache");
    }

    /** Layer placements as strings: one letter per layer, c = cpu, d = device; then the output's. */
    @ParameterizedTest(name = "layers {0}, output {1}")
    @CsvSource({"cd, c", "dc, d", "dc, c", "cd, d", "dcd, c", "cdc, d"})
    void splitPlacementsMatchTheCpu(String layers, String output) throws Exception {
        SyntheticLlama.Spec s = TestModels.tiny(GgmlType.Q4_K);
        SyntheticLlama.Spec spec = new SyntheticLlama.Spec(s.embeddingDim(), layers.length(), s.feedForwardDim(),
                s.headCount(), s.kvHeadCount(), s.vocabSize(), s.contextLength(), s.weightType(), true, 3);
        Path file = TestModels.write(spec, dir);
        List<Backend> placed = new ArrayList<>();
        for (char c : layers.toCharArray()) {
            placed.add(c == 'd' ? device : cpu);
        }
        compare(file, GgmlType.F16, n -> placed, output.equals("d") ? device : cpu, "split " + layers + "/" + output);
    }

    /** Layers on opencl:0 and opencl:1 (PoCL offers two devices under POCL_DEVICES="pthread pthread"). */
    @org.junit.jupiter.api.Test
    void layersSplitOverTwoOpenClDevicesMatchTheCpu() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(OpenClBackend.devices().size() >= 2,
                "skipping: one OpenCL device only (the offload tests set POCL_DEVICES=\"pthread pthread\")");
        SyntheticLlama.Spec s = TestModels.tiny(GgmlType.Q6_K);
        SyntheticLlama.Spec spec = new SyntheticLlama.Spec(s.embeddingDim(), 3, s.feedForwardDim(), s.headCount(),
                s.kvHeadCount(), s.vocabSize(), s.contextLength(), s.weightType(), false, 9);
        Path file = TestModels.write(spec, dir);
        try (DeviceBackend second = OpenClBackend.create(1, DeviceBackend.Options.defaults())) {
            assertEquals("opencl:1", second.name());
            compare(file, GgmlType.Q8_0, n -> List.of(device, second, device), second, "opencl:0 / opencl:1");
            assertEquals(0, second.allocatedBytes());
        }
    }

    private static List<Backend> all(int n, Backend b) {
        return java.util.Collections.nCopies(n, b);
    }

    /**
     * The prompt in batches of 3 (3, 3, 1 tokens), then single tokens, on the CPU alone and on the
     * given placement; logits compared after the prompt and after each single token.
     */
    private static void compare(Path file, GgmlType cache, java.util.function.IntFunction<List<Backend>> layers,
                                Backend output, String label) throws Exception {
        ContextParams params = ContextParams.defaults().withContextSize(64).withBatchSize(3).withCacheType(cache);
        List<float[]> expected = new ArrayList<>();
        try (LlamaModel model = OpenClTestSupport.loadAllOn(file, cpu);
             Context ctx = new Context(model, params, () -> { })) {
            expected.add(ctx.evaluate(PROMPT));
            for (int t : NEXT) {
                expected.add(ctx.evaluate(new int[] {t}));
            }
        }
        try (LlamaModel model = OpenClTestSupport.load(file, layers, output);
             Context ctx = new Context(model, params, () -> { })) {
            assertTrue(model.placement().backends().contains(device), "the placement uses the device");
            assertTrue(device.allocatedBytes() > 0, "weights and buffers live on the device");
            assertClose(expected.get(0), ctx.evaluate(PROMPT), label + " after the prompt");
            for (int i = 0; i < NEXT.length; i++) {
                assertClose(expected.get(i + 1), ctx.evaluate(new int[] {NEXT[i]}), label + " after token " + i);
            }
        }
        assertEquals(0, device.allocatedBytes(), label + ": closing the model and its context frees the device");
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        Logits.assertClose(expected, actual, TOLERANCE, what);
    }
}
