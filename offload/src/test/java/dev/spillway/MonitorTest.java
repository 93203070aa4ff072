package dev.spillway;

import static dev.spillway.SchedulerTesting.greedyContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.MemoryLimitException;
import dev.spillway.api.MemoryWarning;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.memory.MemoryMonitor;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.opencl.OpenClBackend;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The memory monitor on the host and on a device, directly and through {@link Model}: one
 * {@link MemoryWarning} per crossing of 85 %, a {@link MemoryLimitException} naming what, bytes,
 * used and budget for an allocation past 95 %, and a huge context refused at once with a hint at -c.
 */
class MonitorTest {
    static final long BUDGET = 1_000_000;
    static final ContextParams CTX = greedyContext(128);

    /** 85 % warning once per crossing, 95 % refusal, on one backend whose account has a 1 MB budget. */
    static void warnsOnceAndRefuses(String name, Function<MemoryAccount, Backend> open) {
        MemoryMonitor monitor = new MemoryMonitor();
        List<MemoryWarning> warnings = new CopyOnWriteArrayList<>();
        monitor.addListener(warnings::add);
        MemoryAccount account = monitor.open(name, BUDGET);
        try (Backend b = open.apply(account)) {
            Activations base = b.allocateActivations(1, 200_000);                 // 800 000 B: 80 %
            assertEquals(800_000, account.usedBytes());
            assertTrue(warnings.isEmpty());
            Activations a = b.allocateActivations(1, 15_000);                     // 860 000 B: 86 %
            assertEquals(1, warnings.size(), "past 85 %: one warning");
            MemoryWarning w = warnings.get(0);
            assertEquals(name, w.budget());
            assertEquals(860_000, w.usedBytes());
            assertEquals(BUDGET, w.budgetBytes());
            assertTrue(w.what().startsWith("activations"), w.what());
            Activations c = b.allocateActivations(1, 10_000);                     // 900 000 B: still above, no new warning
            assertEquals(1, warnings.size(), "once per crossing");
            MemoryLimitException e = assertThrows(MemoryLimitException.class, () -> b.allocateActivations(1, 15_000));
            assertEquals(name, e.backend());
            assertEquals(60_000, e.requestedBytes());
            assertEquals(900_000, e.usedBytes());
            assertEquals(BUDGET, e.budgetBytes());
            assertTrue(e.what().startsWith("activations"), e.what());
            assertTrue(e.getMessage().contains("refused") && e.getMessage().contains("95 %"), e.getMessage());
            assertEquals(900_000, account.usedBytes(), "nothing counted for the refused allocation");
            c.close();
            a.close();                                                              // back to 80 %: below the line
            assertEquals(800_000, account.usedBytes());
            Activations again = b.allocateActivations(1, 15_000);
            assertEquals(2, warnings.size(), "a second crossing warns again");
            again.close();
            base.close();
            assertEquals(0, account.usedBytes());
        }
    }

    @Test
    void hostBudget() {
        warnsOnceAndRefuses("host", account -> new CpuBackend(new CpuBackend.Options(1, account)));
    }

    @Test
    void deviceBudget() {
        OpenClTestSupport.assumeOpenCl();
        warnsOnceAndRefuses("opencl:0", account -> OpenClBackend.create(0, DeviceBackend.Options.defaults().withMemory(account)));
    }

    /** --max-memory: the context that takes the host past 85 % warns; the next one is refused, naming -c. */
    @Test
    void hostThroughTheModel() throws Exception {
        Path stories = TestModels.stories260K();
        long perContext;
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(CTX));
             Context c = m.newContext(CTX)) {
            c.generate("Once upon a time", 4);
            perContext = SchedulerTesting.account(m, "host").usedBytes();
        }
        long budget = (long) (perContext / 0.90);                 // one context: 90 %
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(CTX).withMaxMemory(budget))) {
            List<MemoryWarning> warnings = new CopyOnWriteArrayList<>();
            m.addMemoryListener(warnings::add);
            try (Context c = m.newContext(CTX)) {
                c.generate("Once upon a time", 4);
                assertEquals(1, warnings.size(), "one warning: " + warnings);
                assertEquals("host", warnings.get(0).budget());
                MemoryLimitException e = assertThrows(MemoryLimitException.class, () -> m.newContext(CTX));
                assertEquals("host", e.backend());
                assertEquals(budget, e.budgetBytes());
                assertTrue(e.usedBytes() > 0 && e.requestedBytes() > 0, e.getMessage());
                assertTrue(e.getMessage().contains("-c"), e.getMessage());
            }
            assertEquals(1, warnings.size());
        }
    }

    /** --device-memory: a context crossing 85 % of the device warns; a strict second one is refused. */
    @Test
    void deviceThroughTheModel() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        Path stories = TestModels.stories260K();
        ModelParams all = SchedulerTesting.onOpenCl(CTX, -1).withMargin(0).withStrict(true);
        long one = Model.plan(stories, all, Devices.standard()).devices().get(0).estimatedBytes();
        long budget = (long) (one / 0.90);
        try (Model m = Model.load(stories, all.withDeviceMemoryLimit(budget))) {
            List<MemoryWarning> warnings = new CopyOnWriteArrayList<>();
            m.addMemoryListener(warnings::add);
            try (Context c = m.newContext(CTX)) {
                assertEquals(1, warnings.size(), "one warning: " + warnings);
                assertEquals("opencl:0", warnings.get(0).budget());
                assertTrue(warnings.get(0).percent() > 85 && warnings.get(0).percent() < 95, warnings.get(0).describe());
                MemoryLimitException e = assertThrows(MemoryLimitException.class, () -> m.newContext(CTX));
                assertEquals("opencl:0", e.backend());
                assertEquals(budget, e.budgetBytes());
            }
        }
    }

    @Test
    @Timeout(10)
    void aHugeContextIsRefusedAtOnceWithAHintAtMinusC() throws Exception {
        Path stories = TestModels.stories260K();
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(CTX))) {
            long start = System.nanoTime();
            MemoryLimitException e = assertThrows(MemoryLimitException.class,
                    () -> m.newContext(greedyContext(100_000_000)));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms < 2000, "refused in " + ms + " ms");
            assertTrue(e.getMessage().contains("-c"), e.getMessage());
            assertEquals("host", e.backend());
            assertEquals(0, SchedulerTesting.account(m, "host").usedBytes(), "nothing was allocated");
        }
    }
}
