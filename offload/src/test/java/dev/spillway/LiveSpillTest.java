package dev.spillway;

import static dev.spillway.SchedulerTesting.greedyContext;
import static dev.spillway.SchedulerTesting.onOpenCl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.MemoryLimitException;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every layer on the device under a budget that holds the weights and one context (with 4 KiB to
 * spare), not two: a
 * second context spills layers to the CPU, the first keeps generating (its KV rows moved along), and
 * both write what the same steps write on the CPU. Strict: the second context is refused.
 */
class LiveSpillTest {
    static final ContextParams CTX = greedyContext(128);
    Path stories;
    ModelParams params;

    @BeforeEach
    void setUp() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        stories = TestModels.stories260K();
        ModelParams all = onOpenCl(CTX, -1).withMargin(0);
        long one = Model.plan(stories, all, Devices.standard()).devices().get(0).estimatedBytes();
        long two = Model.plan(stories, all.withParallel(2), Devices.standard()).devices().get(0).estimatedBytes();
        // Just room for one context: moving the output head alone cannot make room for a second.
        long budget = (long) ((one + 4096) / (MemoryAccount.REFUSE_PERCENT / 100.0));
        assertTrue(0.95 * budget < two, "two contexts must not fit");
        params = all.withDeviceMemoryLimit(budget);
    }

    /** ctx1: prompt + 16 tokens; then ctx2 is created; ctx2: its prompt + 16 tokens; ctx1: 16 more. */
    static List<String> steps(Model m, Runnable afterSecond) {
        try (Context c1 = m.newContext(CTX)) {
            String a = c1.generate("Once upon a time", 16).text();
            try (Context c2 = m.newContext(CTX)) {
                afterSecond.run();
                String b = c2.generate("The little dog", 16).text();
                String c = c1.generate("", 16).text();
                String d = c2.generate("", 8).text();
                return List.of(a, b, c, d);
            }
        }
    }

    @Test
    void aSecondContextSpillsLayersAndBothGenerateTheCpuText() throws Exception {
        List<String> cpu;
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(CTX))) {
            cpu = steps(m, () -> { });
        }
        try (Model m = Model.load(stories, params)) {
            DeviceBackend device = SchedulerTesting.device(m);
            assertTrue(m.loadReport().failed().isEmpty(), m.loadReport().line());
            int layers = m.config().layerCount();
            assertEquals(layers, m.placement().layersOn(device));
            List<String> texts = steps(m, () -> {
                assertFalse(m.spills().isEmpty(), "the second context spilled");
                assertTrue(m.placement().layersOn(device) < layers || m.placement().outputBackend() != device,
                        m.placement().table());
                assertTrue(m.placement().layersOn(m.backends().get(0)) > 0, "layers run on the cpu now\n" + m.placement().table());
                MemoryAccount acc = SchedulerTesting.account(m, "opencl:0");
                assertTrue(acc.usedBytes() <= acc.limitBytes(), acc.toString());
            });
            assertTrue(m.spills().get(0).startsWith("spill: "), m.spills().get(0));
            assertEquals(cpu, texts, "spilled model vs cpu, step by step; spills: " + m.spills());
        }
    }

    @Test
    void strictModeRefusesTheSecondContext() throws Exception {
        try (Model m = Model.load(stories, params.withStrict(true));
             Context c1 = m.newContext(CTX)) {
            c1.generate("Once upon a time", 8);
            MemoryLimitException e = assertThrows(MemoryLimitException.class, () -> m.newContext(CTX));
            assertEquals("opencl:0", e.backend());
            assertTrue(e.getMessage().contains("--no-fallback"), e.getMessage());
            assertTrue(m.spills().isEmpty());
            assertEquals(m.config().layerCount(), m.placement().layersOn(SchedulerTesting.device(m)));
            assertEquals(8, c1.generate("", 8).tokens().length, "the first context goes on");
        }
    }

    /** The host cannot take the spilled rows: the second context is refused and nothing moves. */
    @Test
    void whenTheHostCannotHoldTheSpillNothingMoves() throws Exception {
        try (Model m = Model.load(stories, params.withMaxMemory(64 << 10));
             Context c1 = m.newContext(CTX)) {
            String a = c1.generate("Once upon a time", 8).text();
            long deviceBytes = SchedulerTesting.device(m).allocatedBytes();
            MemoryLimitException e = assertThrows(MemoryLimitException.class, () -> m.newContext(CTX));
            assertEquals("host", e.backend(), e.getMessage());
            assertTrue(m.spills().isEmpty(), m.spills().toString());
            assertEquals(m.config().layerCount(), m.placement().layersOn(SchedulerTesting.device(m)), m.placement().table());
            assertEquals(deviceBytes, SchedulerTesting.device(m).allocatedBytes(), "nothing was freed or allocated on the device");
            String b = c1.generate("", 8).text();
            try (Model cpu = Model.load(stories, SchedulerTesting.cpuOnly(CTX)); Context ref = cpu.newContext(CTX)) {
                assertEquals(ref.generate("Once upon a time", 8).text() + ref.generate("", 8).text(), a + b);
            }
        }
    }
}
