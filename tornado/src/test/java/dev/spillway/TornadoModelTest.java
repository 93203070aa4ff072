package dev.spillway;

import static dev.spillway.SchedulerTesting.PROMPT;
import static dev.spillway.SchedulerTesting.base;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.OffloadBackend;
import dev.spillway.offload.schedule.LoadReport;
import dev.spillway.tornado.TornadoApi;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real stories260K model on TornadoVM through {@code Model.load}, found the way the CLI finds it
 * ({@link Devices#standard()}: the module's {@code ServiceLoader} provider): every layer on TornadoVM,
 * then a split with the CPU, each giving llama.cpp's greedy text; then an out-of-memory injected into
 * TornadoVM's allocations, which the fallback loader answers with a partial offload.
 */
class TornadoModelTest {
    static final ContextParams CTX = ContextParams.defaults().withContextSize(256).withBatchSize(32)
            .withSampling(SamplingParams.greedy());
    Path stories;

    @BeforeEach
    void setUp() throws Exception {
        DeviceApi.Listing l = new TornadoApi().list();
        assumeTrue(!l.devices().isEmpty(), () -> "TornadoVM: " + l.reason());
        stories = TestModels.stories260K();
    }

    static ModelParams onTornado(int gpuLayers) {
        return base(CTX).withDevice("tornado").withGpuLayers(gpuLayers);
    }

    static Backend tornado(Model model) {
        return model.backends().stream().filter(b -> b.name().startsWith("tornado:")).findFirst()
                .orElseThrow(() -> new AssertionError("no TornadoVM backend in " + model.backends()));
    }

    static String continuation(Model model, int tokens) {
        try (Context c = model.newContext(CTX)) {
            GenerationResult r = c.generate(PROMPT, tokens);
            return r.text();
        }
    }

    @Test
    void everyLayerOnTornadoGivesLlamaCppsText() throws Exception {
        try (Model model = Model.load(stories, onTornado(-1), dev.spillway.engine.model.LlamaWeights.Progress.NONE, Devices.standard())) {
            Backend t = tornado(model);
            int layers = model.config().layerCount();
            assertEquals(layers, model.placement().layersOn(t), model.placement().table());
            assertEquals(t, model.placement().outputBackend(), "the output head too");
            assertEquals(model.plan().devices().get(0).estimatedBytes(), model.loadReport().measured().get(t.name()),
                    "the estimate is what the backend allocated for the planned context");
            assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, continuation(model, 64));
        }
    }

    @Test
    void aSplitBetweenTheCpuAndTornadoGivesLlamaCppsText() throws Exception {
        try (Model model = Model.load(stories, onTornado(2), dev.spillway.engine.model.LlamaWeights.Progress.NONE, Devices.standard())) {
            Backend t = tornado(model);
            assertEquals(2, model.placement().layersOn(t), model.placement().table());
            assertEquals(3, model.placement().layersOn(model.backends().getFirst()), model.placement().table());
            assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, continuation(model, 64));
        }
    }

    /**
     * Live spill, as {@link LiveSpillTest} on OpenCL: every layer on TornadoVM under a budget with room
     * for one context; a second context moves layers (and the first context's KV rows, through the
     * raw cache copies) to the CPU, and both write the CPU's text step by step.
     */
    @Test
    void aSecondContextSpillsLayersToTheCpuAndBothWriteTheCpuText() throws Exception {
        ContextParams ctx = SchedulerTesting.greedyContext(128);
        ModelParams all = base(ctx).withDevice("tornado").withGpuLayers(-1).withMargin(0);
        long one = Model.plan(stories, all, Devices.standard()).devices().get(0).estimatedBytes();
        long two = Model.plan(stories, all.withParallel(2), Devices.standard()).devices().get(0).estimatedBytes();
        long budget = (long) ((one + 4096) / (dev.spillway.engine.memory.MemoryAccount.REFUSE_PERCENT / 100.0));
        assertTrue(0.95 * budget < two, "two contexts must not fit");
        List<String> cpu;
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(ctx))) {
            cpu = LiveSpillTest.steps(m, () -> { });
        }
        try (Model m = Model.load(stories, all.withDeviceMemoryLimit(budget), dev.spillway.engine.model.LlamaWeights.Progress.NONE,
                Devices.standard())) {
            Backend t = tornado(m);
            assertEquals(m.config().layerCount(), m.placement().layersOn(t), m.placement().table());
            List<String> texts = LiveSpillTest.steps(m, () -> {
                assertFalse(m.spills().isEmpty(), "the second context spilled");
                assertTrue(m.placement().layersOn(m.backends().getFirst()) > 0, "layers run on the cpu now\n" + m.placement().table());
            });
            assertEquals(cpu, texts, "spilled from TornadoVM vs cpu, step by step; spills: " + m.spills());
        }
    }

    /** TornadoVM whose backends refuse their 4th allocation (a weight of the first plan) as out of memory. */
    static final class FaultyTornado implements DeviceApi {
        final TornadoApi real = new TornadoApi();
        final AtomicLong opened = new AtomicLong();

        @Override
        public String api() {
            return real.api();
        }

        @Override
        public Listing list() {
            return real.list();
        }

        @Override
        public DeviceRuntime open(int index) {
            return real.open(index);
        }

        @Override
        public OffloadBackend openBackend(DeviceInfo device, DeviceBackend.Options options) {
            opened.incrementAndGet();
            return real.openBackend(device, options.withAllocationGate((index, bytes) -> index != 3));
        }

        @Override
        public dev.spillway.engine.backend.Sizing sizing() {
            return real.sizing();
        }
    }

    @Test
    void anInjectedOutOfMemoryFallsBackToAPartialOffload() throws Exception {
        String cpuText;
        try (Model cpu = Model.load(stories, base(CTX).withGpuLayers(0))) {
            cpuText = continuation(cpu, 48);
        }
        FaultyTornado faulty = new FaultyTornado();
        try (Model model = Model.load(stories, onTornado(-1), dev.spillway.engine.model.LlamaWeights.Progress.NONE, new Devices(List.of(faulty)))) {
            LoadReport report = model.loadReport();
            assertFalse(report.failed().isEmpty(), "the first attempt ran out: " + report.line());
            assertEquals("tornado:0", report.failed().get(0).device());
            assertTrue(report.failed().get(0).error().contains("refused by the allocation gate"), report.failed().get(0).error());
            int onDevice = model.placement().layersOn(tornado(model));
            assertTrue(onDevice < model.config().layerCount(), "a partial offload: " + model.placement().table());
            assertEquals(onDevice, model.plan().deviceLayers());
            assertEquals(1, faulty.opened.get(), "the backend is opened once and reused by every attempt");
            assertEquals(cpuText, continuation(model, 48));
        }
    }
}
