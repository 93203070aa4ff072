package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.device.AllocationGate;
import dev.spillway.offload.device.DeviceBackend;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Device memory accounting on OpenCL: the counter returns to zero when models and contexts close,
 * a failure at any allocation leaves nothing allocated, and the budget refuses what does not fit
 * with a {@link BackendMemoryException} naming the backend and the bytes.
 */
class DeviceMemoryTest {
    @TempDir
    static Path dir;
    static Path file;
    static final ContextParams PARAMS = ContextParams.defaults().withContextSize(32).withBatchSize(4)
            .withCacheType(GgmlType.Q8_0);

    @BeforeAll
    static void writeModel() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        file = TestModels.write(TestModels.tiny(GgmlType.Q4_0), dir);
    }

    /** Load, create a context, run a batch and a single token, close everything. */
    private static void run(Backend layer0, Backend layer1, Backend output) throws Exception {
        try (LlamaModel model = OpenClTestSupport.load(file, n -> List.of(layer0, layer1), output);
             Context ctx = new Context(model, PARAMS, () -> { })) {
            ctx.evaluate(new int[] {1, 17, 250, 3, 299});
            ctx.evaluate(new int[] {42});
        }
    }

    /**
     * Counts the allocations of a whole run, then fails each one in turn (first, second, …, last):
     * weight uploads, KV caches, activation buffers and the RoPE table of the first batch. Every
     * failure must surface as a BackendMemoryException with the device error as its cause, and leave
     * the device counter at zero.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"all on the device", "layer 0 on the cpu"})
    void aFailureAtEveryAllocationLeavesNothingAllocated(String placement) throws Exception {
        AtomicLong seen = new AtomicLong();
        AtomicLong failAt = new AtomicLong(-1);
        AllocationGate gate = (index, bytes) -> seen.getAndIncrement() != failAt.get();
        try (DeviceBackend device = OpenClTestSupport.backend(DeviceBackend.Options.defaults().withAllocationGate(gate));
             CpuBackend cpu = new CpuBackend(new CpuBackend.Options(1))) {
            Backend first = placement.startsWith("all") ? device : cpu;
            run(first, device, device);
            long total = seen.get();
            assertEquals(0, device.allocatedBytes());
            // 9 weights per device layer + 2 output weights; 2 buffers per KV cache; 9 + 3 activations; the rope table
            long expected = 9L * (first == device ? 2 : 1) + 2 + 2L * (first == device ? 2 : 1) + 12 + 1;
            assertEquals(expected, total, "allocations in a whole run");
            for (long i = 0; i < total; i++) {
                seen.set(0);
                failAt.set(i);
                long at = i;
                BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> run(first, device, device),
                        "a failure at allocation " + at);
                assertEquals(device.name(), e.backend());
                assertTrue(e.requestedBytes() > 0, e.getMessage());
                GpuMemoryError cause = assertInstanceOf(GpuMemoryError.class, e.getCause());
                assertEquals("INJECTED_FAILURE", cause.status());
                assertEquals(0, device.allocatedBytes(), "device bytes left after a failure at allocation " + i);
                assertEquals(0, cpu.allocatedBytes(), "cpu bytes left after a failure at allocation " + i);
            }
            failAt.set(-1);
            run(first, device, device);   // the backend is still usable
            assertEquals(0, device.allocatedBytes());
        }
    }

    @Test
    void aModelOverTheBudgetFailsNamingTheBackendAndTheBytes() throws Exception {
        long weights;
        try (DeviceBackend device = OpenClTestSupport.backend();
             LlamaModel model = OpenClTestSupport.loadAllOn(file, device)) {
            weights = model.weights().allocatedBytes();
            assertEquals(weights, device.allocatedBytes());
        }
        try (DeviceBackend device = OpenClTestSupport.backend(DeviceBackend.Options.defaults().withMemoryLimit(weights / 2))) {
            assertEquals(weights / 2, device.budget());
            BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> OpenClTestSupport.loadAllOn(file, device));
            assertEquals(device.name(), e.backend());
            assertTrue(e.getMessage().contains(device.name()) && e.getMessage().contains(e.requestedBytes() + " bytes")
                    && e.getMessage().contains("budget"), e.getMessage());
            assertEquals("BUDGET_EXCEEDED", assertInstanceOf(GpuMemoryError.class, e.getCause()).status());
            assertEquals(0, device.allocatedBytes(), "a load that failed halfway left nothing");
        }
        // The weights fit, the context's KV caches do not: the model stays usable, the context leaves nothing.
        try (DeviceBackend device = OpenClTestSupport.backend(DeviceBackend.Options.defaults().withMemoryLimit(weights + 1024))) {
            try (LlamaModel model = OpenClTestSupport.loadAllOn(file, device)) {
                BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> new Context(model, PARAMS, () -> { }));
                assertTrue(e.getMessage().contains("cache"), e.getMessage());
                assertEquals(weights, device.allocatedBytes());
            }
            assertEquals(0, device.allocatedBytes());
        }
    }

    @Test
    void theBudgetIsTheSmallerOfTheDeviceAndTheLimit() {
        try (DeviceBackend device = OpenClTestSupport.backend(DeviceBackend.Options.defaults().withMemoryLimit(Long.MAX_VALUE))) {
            assertEquals(device.device().totalBytes(), device.budget());
            assertTrue(device.budget() > 0);
        }
        try (DeviceBackend device = OpenClTestSupport.backend()) {
            assertEquals(device.device().totalBytes(), device.budget(), "no limit: what the device reports");
        }
    }

    @Test
    void aBufferOverTheMaximumAllocationIsRefusedBeforeTheApi() {
        try (OpenClRuntime runtime = OpenClRuntime.open(0)) {
            long max = runtime.maxAllocationBytes();
            GpuMemoryError e = assertThrows(GpuMemoryError.class, () -> runtime.allocate(max + 1));
            assertEquals("CL_INVALID_BUFFER_SIZE", e.status());
            assertEquals(max + 1, e.requestedBytes());
            assertTrue(e.getMessage().contains("CL_DEVICE_MAX_MEM_ALLOC_SIZE"), e.getMessage());
        }
        try (DeviceBackend device = OpenClTestSupport.backend()) {
            long max;
            try (OpenClRuntime runtime = OpenClRuntime.open(0)) {
                max = runtime.maxAllocationBytes();
            }
            long cols = 8192;
            long rows = max / (4 * cols) + 1;   // one row more than the largest buffer holds
            assumeTrue(rows * cols <= Integer.MAX_VALUE - 16 && 4 * rows * cols <= device.budget(),
                    "the largest buffer (" + max + " bytes) is beyond what one activation matrix can ask for");
            BackendMemoryException e = assertThrows(BackendMemoryException.class,
                    () -> device.allocateActivations((int) rows, (int) cols));
            assertEquals("CL_INVALID_BUFFER_SIZE", assertInstanceOf(GpuMemoryError.class, e.getCause()).status());
            assertEquals(0, device.allocatedBytes());
        }
    }

    /** Many backends in one JVM, two of them open at once, each freeing everything on close. */
    @Test
    void manyBackendsComeAndGoWithoutLeaks() throws Exception {
        for (int round = 0; round < 3; round++) {
            try (DeviceBackend a = OpenClTestSupport.backend(); DeviceBackend b = OpenClTestSupport.backend()) {
                run(a, b, a);
                assertEquals(0, a.allocatedBytes());
                assertEquals(0, b.allocatedBytes());
            }
        }
    }

    @Test
    void closingTheBackendFreesHandlesLeftOpen() {
        DeviceBackend device = OpenClTestSupport.backend();
        Activations a = device.allocateActivations(4, 64);
        KvCache kv = device.allocateKv(16, 64, GgmlType.F16, GgmlType.Q4_0);
        assertEquals(4L * 4 * 64 + KvCache.bytesFor(16, 64, GgmlType.F16, GgmlType.Q4_0), device.allocatedBytes());
        device.close();
        assertEquals(0, device.allocatedBytes());
        a.close();   // closing a handle after its backend does nothing
        kv.close();
        assertThrows(IllegalStateException.class, () -> device.allocateActivations(1, 1));
        assertThrows(IllegalStateException.class, device::synchronize);
        device.close();   // idempotent
    }
}
