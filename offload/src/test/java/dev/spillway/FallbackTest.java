package dev.spillway;

import static dev.spillway.SchedulerTesting.PROMPT;
import static dev.spillway.SchedulerTesting.greedy;
import static dev.spillway.SchedulerTesting.greedyContext;
import static dev.spillway.SchedulerTesting.onOpenCl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.Devices;
import dev.spillway.offload.opencl.OpenClTestSupport;
import dev.spillway.offload.schedule.LoadReport;
import dev.spillway.offload.schedule.OffloadException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A device budget of 60 % of the full offload's estimate: {@code -ngl -1} loads a partial offload
 * after the device ran out (at most 3 attempts), reports it, and writes the CPU's greedy text;
 * {@code --no-fallback} makes the same load an {@link OffloadException} that says what ran out.
 */
class FallbackTest {
    static final ContextParams CTX = greedyContext(128);
    Path stories;
    long budget;

    @BeforeEach
    void setUp() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        stories = TestModels.stories260K();
        long e = Model.plan(stories, onOpenCl(CTX, -1), Devices.standard()).devices().get(0).estimatedBytes();
        budget = (long) (0.6 * e);
    }

    @Test
    void aDeviceTooSmallForEveryLayerLoadsFewerAndWritesTheCpuText() throws Exception {
        String cpuText;
        try (Model cpu = Model.load(stories, SchedulerTesting.cpuOnly(CTX))) {
            cpuText = greedy(cpu, CTX, PROMPT, 48);
        }
        ModelParams params = onOpenCl(CTX, -1).withDeviceMemoryLimit(budget);
        try (Model model = Model.load(stories, params)) {
            LoadReport report = model.loadReport();
            assertFalse(report.failed().isEmpty(), "the first attempt must have run out: " + report.line());
            assertTrue(report.attempts() <= 3, "converges in at most 3 attempts: " + report.line());
            assertEquals("opencl:0", report.failed().get(0).device());
            assertEquals("all", report.failed().get(0).plan().request());
            Matcher m = Pattern.compile("loaded with (\\d+) layers?").matcher(report.line());
            assertTrue(m.find(), report.line());
            int n = Integer.parseInt(m.group(1));
            int layers = model.config().layerCount();
            assertTrue(n < layers, "a partial offload: " + report.line());
            assertEquals(n, model.plan().deviceLayers());
            assertEquals(n, model.placement().layersOn(SchedulerTesting.device(model)), model.placement().table());
            assertEquals("cpu", model.placement().outputBackend().name(), "the output head is the first unit to go");
            long used = SchedulerTesting.account(model, "opencl:0").usedBytes();
            assertTrue(used <= 0.95 * budget, "device use " + used + " stays under the refusal line of " + budget);
            assertEquals(model.plan().devices().get(0).estimatedBytes(), report.measured().get("opencl:0"),
                    "the loaded plan's estimate is what was measured");
            assertEquals(cpuText, greedy(model, CTX, PROMPT, 48));
        }
    }

    @Test
    void strictModeRefusesWithAClearMessage() {
        ModelParams params = onOpenCl(CTX, -1).withDeviceMemoryLimit(budget).withStrict(true);
        OffloadException e = assertThrows(OffloadException.class, () -> Model.load(stories, params));
        assertTrue(e.getMessage().contains("out of memory on opencl:0 at "), e.getMessage());
        assertTrue(e.getMessage().contains("not retrying (--no-fallback)"), e.getMessage());
        assertTrue(e.getMessage().startsWith("offload: asked for "), e.getMessage());
        assertInstanceOf(BackendMemoryException.class, e.getCause());
    }
}
