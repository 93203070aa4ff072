package dev.spillway;

import static dev.spillway.SchedulerTesting.greedyContext;
import static dev.spillway.SchedulerTesting.onOpenCl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.Devices;
import dev.spillway.offload.opencl.OpenClTestSupport;
import dev.spillway.offload.schedule.LayerPlan;
import dev.spillway.offload.schedule.OffloadException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** {@code -ngl auto}: the most units that fit, and one more would not; with no GPU, the CPU and no warning. */
class AutoTest {
    static final ContextParams CTX = greedyContext(128);

    @Test
    void autoPicksTheLargestOffloadThatFitsAndOneMoreDoesNot() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        Path stories = TestModels.stories260K();
        Devices devices = Devices.standard();
        ModelParams params = onOpenCl(CTX, 0).withMargin(0);
        int n = 3;
        long en = Model.plan(stories, params.withGpuLayers(n), devices).devices().get(0).estimatedBytes();
        long next = Model.plan(stories, params.withGpuLayers(n + 1), devices).devices().get(0).estimatedBytes();
        assertTrue(next > en, "one more layer costs more: " + en + " vs " + next);
        // The plan may use 95 % of the budget (the monitor's refusal line), less the margin (0 here).
        long budget = (long) ((en + next) / 2 / (MemoryAccount.REFUSE_PERCENT / 100.0));
        ModelParams limited = params.withDeviceMemoryLimit(budget);

        LayerPlan auto = Model.plan(stories, limited.withGpuLayers(ModelParams.AUTO), devices);
        assertEquals(n, auto.deviceUnits(), auto.table());
        assertTrue(auto.devices().get(0).fits(), auto.table());
        LayerPlan more = Model.plan(stories, limited.withGpuLayers(n + 1), devices);
        assertFalse(more.devices().get(0).fits(), more.table());
        assertTrue(auto.reasons().stream().anyMatch(r -> r.contains(n + " unit(s) fit; " + (n + 1) + " would not")), auto.table());

        OffloadException e = assertThrows(OffloadException.class,
                () -> Model.load(stories, limited.withGpuLayers(n + 1).withStrict(true)));
        assertTrue(e.getMessage().contains("out of memory on opencl:0"), e.getMessage());

        try (Model m = Model.load(stories, limited.withGpuLayers(ModelParams.AUTO))) {
            assertTrue(m.loadReport().failed().isEmpty(), m.loadReport().line());
            assertEquals(n, m.placement().layersOn(SchedulerTesting.device(m)), m.placement().table());
            assertEquals("cpu", m.placement().outputBackend().name());
            assertEquals(en, m.loadReport().measured().get("opencl:0"));
        }
    }

    @Test
    void autoWithoutAGpuRunsEverythingOnTheCpuWithoutAWarning() throws Exception {
        Path stories = TestModels.stories260K();
        Devices devices = Devices.standard();
        assumeTrue(devices.choose(DeviceRequest.AUTO, new ArrayList<>()).isEmpty(), "skipping: this machine has a GPU");
        List<LogRecord> warnings = new ArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger log = Logger.getLogger("dev.spillway");
        log.addHandler(handler);
        try (Model m = Model.load(stories, ModelParams.defaults().withThreads(1).withPlannedContext(CTX))) {
            assertEquals(ModelParams.AUTO, m.params().gpuLayers());
            assertEquals(1, m.backends().size(), "only the CPU backend: PoCL is never chosen automatically");
            assertEquals(m.config().layerCount(), m.placement().layersOn(m.backends().get(0)));
            assertEquals(0, m.plan().deviceUnits());
            assertTrue(m.loadReport().failed().isEmpty());
        } finally {
            log.removeHandler(handler);
        }
        assertTrue(warnings.isEmpty(), () -> "no warning expected, got: " + warnings.stream().map(LogRecord::getMessage).toList());
    }
}
