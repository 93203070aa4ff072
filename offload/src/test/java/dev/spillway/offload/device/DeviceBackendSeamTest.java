package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.BackendMemoryException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The backend's side of the {@link DeviceRuntime} seam, with a runtime that needs no device: device
 * out-of-memory errors become {@link BackendMemoryException}s with the device error as cause, and
 * closing the backend closes the runtime.
 */
class DeviceBackendSeamTest {

    /** A runtime whose allocations succeed up to {@code capacity} bytes, then fail as CUDA would. */
    static final class FakeRuntime implements DeviceRuntime {
        final long capacity;
        long used;
        boolean closed;
        boolean launchOutOfResources;
        final List<String> launched = new ArrayList<>();

        FakeRuntime(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public String api() {
            return "fake";
        }

        @Override
        public DeviceInfo device() {
            return new DeviceInfo("fake", 3, "fake device", "tests", 1L << 30, -1);
        }

        @Override
        public DeviceBuffer allocate(long bytes) {
            if (used + bytes > capacity) {
                throw new GpuMemoryError("fake", "FAKE_ERROR_OUT_OF_MEMORY", bytes, "out of memory");
            }
            used += bytes;
            return new DeviceBuffer() {
                boolean gone;

                @Override
                public long byteSize() {
                    return bytes;
                }

                @Override
                public boolean isClosed() {
                    return gone;
                }

                @Override
                public void close() {
                    if (!gone) {
                        gone = true;
                        used -= bytes;
                    }
                }
            };
        }

        @Override
        public void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
            assertTrue(src.isNative(), "the backend hands runtimes native memory only");
        }

        @Override
        public void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        }

        @Override
        public Kernel kernel(String name) {
            return () -> name;
        }

        @Override
        public void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args) {
            if (launchOutOfResources) {
                throw new GpuMemoryError("fake", "FAKE_OUT_OF_RESOURCES", -1, "no resources for " + kernel.name());
            }
            launched.add(kernel.name());
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void deviceOutOfMemoryBecomesABackendMemoryException() {
        FakeRuntime rt = new FakeRuntime(1000);
        DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults());
        assertEquals("fake:3", b.name());
        Activations a = b.allocateActivations(10, 10);   // 400 bytes
        BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> b.allocateActivations(10, 20));
        assertEquals("fake:3", e.backend());
        assertEquals(800, e.requestedBytes());
        assertTrue(e.getCause() instanceof GpuMemoryError g && g.status().equals("FAKE_ERROR_OUT_OF_MEMORY"), e.toString());
        assertTrue(e.getMessage().contains("fake:3") && e.getMessage().contains("800 bytes"), e.getMessage());
        assertEquals(400, b.allocatedBytes());

        rt.launchOutOfResources = true;
        BackendMemoryException launch = assertThrows(BackendMemoryException.class, () -> b.add(a, a, 10));
        assertSame(GpuMemoryError.class, launch.getCause().getClass());
        assertTrue(launch.getMessage().contains("spw_add"), launch.getMessage());

        a.close();
        assertEquals(0, b.allocatedBytes());
        assertEquals(0, rt.used);
        b.close();
        assertTrue(rt.closed, "the backend owns and closes its runtime");
    }

    @Test
    void heapDataIsUploadedThroughNativeStaging() {
        FakeRuntime rt = new FakeRuntime(1 << 20);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            Activations a = b.allocateActivations(2, 8);
            b.write(a, new float[16], 2);
            b.add(a, a, 2);
            b.add(a, a, 0);   // an empty batch launches nothing
            assertEquals(List.of("spw_add"), rt.launched);
            a.close();
        }
    }
}
