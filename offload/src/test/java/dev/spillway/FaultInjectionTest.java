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
import static org.junit.jupiter.api.Assertions.fail;

import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.opencl.OpenClTestSupport;
import dev.spillway.offload.schedule.LoadReport;
import dev.spillway.offload.schedule.OffloadException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A device allocation failing at every index of a full load ({@code -ngl -1}, the planned context
 * reserved): the loader recovers with fewer units, or, strict, ends in a clean
 * {@link OffloadException}; either way nothing stays allocated once the model is closed (or the
 * load threw), on the device and in the host budget. Failures are injected by a runtime wrapper that
 * throws the API's out-of-memory error at one allocation index (no change to the loader needed).
 */
class FaultInjectionTest {
    static final ContextParams CTX = greedyContext(128);
    static final ModelParams FULL = onOpenCl(CTX, -1);
    Path stories;

    @BeforeEach
    void setUp() {
        OpenClTestSupport.assumeOpenCl();
        stories = TestModels.stories260K();
    }

    long countAllocations() throws Exception {
        SchedulerTesting.FaultyOpenCl counting = new SchedulerTesting.FaultyOpenCl(i -> false);
        try (Model m = Model.load(stories, FULL, LlamaWeights.Progress.NONE, counting.devices())) {
            assertTrue(m.loadReport().failed().isEmpty());
        }
        assertTrue(counting.allClosed());
        return counting.allocations.get();
    }

    @Test
    void everyFailedAllocationIsRecoveredWithFewerUnitsAndNothingLeaks() throws Exception {
        long n = countAllocations();
        assertTrue(n > 10, "a full load makes many device allocations, counted " + n);
        int units = 6;   // stories260K: 5 layers + the output head
        List<String> outcomes = new ArrayList<>();
        for (long k = 0; k < n; k++) {
            long failAt = k;
            SchedulerTesting.FaultyOpenCl api = new SchedulerTesting.FaultyOpenCl(i -> i == failAt);
            DeviceBackend device;
            MemoryAccount host;
            try (Model m = Model.load(stories, FULL, LlamaWeights.Progress.NONE, api.devices())) {
                assertEquals(1, api.failures.get(), "allocation " + k + " failed once");
                LoadReport r = m.loadReport();
                assertEquals(1, r.failed().size(), "index " + k + ": " + r.line());
                assertTrue(r.failed().get(0).error().contains("injected failure of allocation " + k), r.failed().get(0).error());
                assertTrue(m.plan().deviceUnits() < units, "index " + k + ": fewer units than asked: " + r.line());
                device = SchedulerTesting.device(m);
                host = SchedulerTesting.account(m, "host");
                // Nothing of the failed attempt stays: the device holds the loaded plan's weights and scratch only.
                var e = m.plan().devices().get(0).estimate();
                assertEquals(e.weightBytes() + e.scratchBytes(), device.allocatedBytes(),
                        "index " + k + ": the failed attempt left bytes on the device\n" + m.plan().table());
                assertEquals(m.plan().devices().get(0).estimatedBytes(), r.measured().get("opencl:0"), "index " + k);
                if (k == 0 || k == n / 2) {
                    outcomes.add(greedy(m, CTX, PROMPT, 32));
                }
            }
            assertEquals(0, device.allocatedBytes(), "index " + k + ": the device counter after close");
            assertEquals(0, host.usedBytes(), "index " + k + ": the host budget after close");
            assertTrue(api.allClosed(), "index " + k + ": the runtime was closed");
        }
        String cpuText;
        try (Model cpu = Model.load(stories, SchedulerTesting.cpuOnly(CTX))) {
            cpuText = greedy(cpu, CTX, PROMPT, 32);
        }
        assertEquals(List.of(cpuText, cpuText), outcomes, "recovered loads write the CPU's text");
    }

    @Test
    void strictLoadsFailCleanlyAtEveryIndex() throws Exception {
        long n = countAllocations();
        for (long k = 0; k < n; k++) {
            long failAt = k;
            SchedulerTesting.FaultyOpenCl api = new SchedulerTesting.FaultyOpenCl(i -> i == failAt);
            try (Model m = Model.load(stories, FULL.withStrict(true), LlamaWeights.Progress.NONE, api.devices())) {
                fail("index " + k + ": a strict load with a failed allocation loaded: " + m.loadReport().line());
            } catch (OffloadException e) {
                assertInstanceOf(BackendMemoryException.class, e.getCause(), "index " + k);
                assertTrue(e.getMessage().contains("out of memory on opencl:0"), e.getMessage());
                assertFalse(e.attempt().plan().devices().isEmpty());
            }
            assertTrue(api.allClosed(), "index " + k + ": the runtime (and with it every buffer) was released");
        }
    }
}
