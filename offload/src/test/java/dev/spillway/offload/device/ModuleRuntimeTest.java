package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.KernelDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The runtime code CUDA and HIP share, over a driver that keeps "device" memory in host memory and
 * runs one kernel in Java by reading its {@code void**} the way cuLaunchKernel does. Everything but
 * the API calls themselves is exercised: buffer ownership and bounds, heap memory refused, uploads
 * not waited for, kernels looked up once, argument marshaling into one reused block, grid limits,
 * and close.
 */
class ModuleRuntimeTest {

    /** Host memory standing in for a device, with a kernel {@code scale(float* out, const float* in, int n, float f)}. */
    static final class HostDriver implements KernelDriver {
        final Arena memory = Arena.ofShared();
        final Map<Long, MemorySegment> allocations = new HashMap<>();
        final List<String> calls = new ArrayList<>();
        long capacity = 1 << 20;
        long used;
        int lookups;
        int pendingCopies;
        final List<Long> paramBlocks = new ArrayList<>();

        @Override
        public String api() {
            return "fake";
        }

        @Override
        public long allocate(long bytes) {
            if (used + bytes > capacity) {
                throw new GpuMemoryError("fake", "FAKE_OUT_OF_MEMORY", bytes, "fakeMalloc(" + bytes + " bytes): out of memory");
            }
            MemorySegment s = memory.allocate(bytes, 256);
            allocations.put(s.address(), s);
            used += bytes;
            return s.address();
        }

        @Override
        public void free(long pointer) {
            MemorySegment s = allocations.remove(pointer);
            assertTrue(s != null, "free of a pointer that was not allocated (or freed twice)");
            used -= s.byteSize();
        }

        MemorySegment at(long address, long bytes) {
            for (MemorySegment s : allocations.values()) {
                if (address >= s.address() && address + bytes <= s.address() + s.byteSize()) {
                    return s.asSlice(address - s.address(), bytes);
                }
            }
            throw new AssertionError("device access outside any allocation");
        }

        @Override
        public void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
            assertTrue(src.isNative(), "drivers only see native memory");
            at(dst, bytes).copyFrom(src.asSlice(0, bytes));
            pendingCopies++;
        }

        @Override
        public void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
            assertTrue(dst.isNative(), "drivers only see native memory");
            dst.asSlice(0, bytes).copyFrom(at(src, bytes));
            pendingCopies++;
        }

        @Override
        public void synchronize(MemorySegment stream) {
            pendingCopies = 0;
            calls.add("sync");
        }

        @Override
        public MemorySegment function(MemorySegment module, String name) {
            lookups++;
            if (!name.equals("scale")) {
                throw new dev.spillway.bindings.NativeException("fake", "FAKE_NOT_FOUND", "fakeGetFunction(" + name + "): not found");
            }
            return MemorySegment.ofAddress(0x5ca1e);
        }

        @Override
        public void launch(MemorySegment function, String kernel, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                           MemorySegment params) {
            calls.add("launch " + kernel + " " + grid[0] + "x" + grid[1] + "x" + grid[2] + " of " + block[0] + "x" + block[1] + "x" + block[2]);
            paramBlocks.add(params.address());
            MemorySegment p = params.reinterpret(4 * ValueLayout.ADDRESS.byteSize());
            long out = p.getAtIndex(ValueLayout.ADDRESS, 0).reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
            long in = p.getAtIndex(ValueLayout.ADDRESS, 1).reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
            int n = p.getAtIndex(ValueLayout.ADDRESS, 2).reinterpret(4).get(ValueLayout.JAVA_INT, 0);
            float f = p.getAtIndex(ValueLayout.ADDRESS, 3).reinterpret(4).get(ValueLayout.JAVA_FLOAT, 0);
            MemorySegment o = at(out, 4L * n);
            MemorySegment i = at(in, 4L * n);
            for (int k = 0; k < n; k++) {
                o.setAtIndex(ValueLayout.JAVA_FLOAT, k, i.getAtIndex(ValueLayout.JAVA_FLOAT, k) * f);
            }
        }

        @Override
        public DeviceMemory memoryInfo() {
            return new DeviceMemory(capacity - used, capacity);
        }
    }

    static final class HostRuntime extends ModuleRuntime {
        int madeCurrent;

        HostRuntime(HostDriver driver, Releases releases) {
            super(new DeviceInfo("fake", 0, "host", "test", driver.capacity, driver.capacity), driver,
                    MemorySegment.ofAddress(1), MemorySegment.ofAddress(2), releases);
        }

        @Override
        protected void makeCurrent() {
            madeCurrent++;
        }
    }

    final HostDriver driver = new HostDriver();
    final List<String> released = new ArrayList<>();
    final HostRuntime runtime = newRuntime();

    HostRuntime newRuntime() {
        Releases r = new Releases();
        r.add("context", () -> released.add("context"));
        r.add("module", () -> released.add("module"));
        return new HostRuntime(driver, r);
    }

    @AfterEach
    void freeHostMemory() {
        runtime.close();
        driver.memory.close();
    }

    @Test
    void uploadLaunchDownloadThroughTheVoidPointerArray() {
        float[] input = {1, 2, 3, 4, 5, 6};
        try (DeviceBuffer in = runtime.allocate(24); DeviceBuffer out = runtime.allocate(24); Arena host = Arena.ofConfined()) {
            runtime.upload(in, 0, host.allocateFrom(ValueLayout.JAVA_FLOAT, input));
            assertEquals(1, driver.pendingCopies, "an upload is enqueued, not waited for");
            assertFalse(driver.calls.contains("sync"), driver.calls.toString());
            DeviceRuntime.Kernel scale = runtime.kernel("scale");
            assertSame(scale, runtime.kernel("scale"), "looked up once");
            assertEquals(1, driver.lookups);
            runtime.launch(scale, new int[] {2}, new int[] {64}, new KernelArgs().buffer(out).buffer(in).i32(6).f32(0.5f));
            assertTrue(driver.calls.contains("launch scale 2x1x1 of 64x1x1"), driver.calls.toString());
            MemorySegment result = host.allocate(16, 4);
            runtime.download(out, 8, result);                                     // floats 2..5
            assertArrayEquals(new float[] {1.5f, 2f, 2.5f, 3f}, result.toArray(ValueLayout.JAVA_FLOAT));
            assertEquals(0, driver.pendingCopies, "a download waits for its copy and every upload before it");
            assertEquals(48, driver.used);
        }
        assertEquals(0, driver.used, "closing the buffers freed them");
        assertTrue(runtime.madeCurrent > 0, "every call binds the context first");
    }

    @Test
    void hostMemoryMustBeNative() {
        try (DeviceBuffer b = runtime.allocate(16)) {
            IllegalArgumentException up = assertThrows(IllegalArgumentException.class,
                    () -> runtime.upload(b, 0, MemorySegment.ofArray(new float[4])));
            assertTrue(up.getMessage().contains("native"), up.getMessage());
            assertThrows(IllegalArgumentException.class, () -> runtime.download(b, 0, MemorySegment.ofArray(new float[4])));
            assertEquals(0, driver.pendingCopies, "nothing reached the driver");
        }
    }

    /** Every launch hands the driver the same parameter block, refilled: nothing is allocated per launch. */
    @Test
    void launchesReuseOneParameterBlock() {
        try (DeviceBuffer in = runtime.allocate(24); DeviceBuffer out = runtime.allocate(24)) {
            DeviceRuntime.Kernel scale = runtime.kernel("scale");
            KernelArgs args = new KernelArgs();
            int[] groups = {1, 1, 1};
            int[] size = {64, 1, 1};
            for (int i = 0; i < 3; i++) {
                runtime.launch(scale, groups, size, args.clear().buffer(out).buffer(in).i32(6).f32(i));
            }
            assertEquals(3, driver.paramBlocks.size());
            assertEquals(1, driver.paramBlocks.stream().distinct().count(), driver.paramBlocks.toString());
        }
    }

    @Test
    void aGridBeyondTheYLimitIsRefusedNamingTheKernel() {
        assertEquals(65535, runtime.maxGroupsY());
        try (DeviceBuffer b = runtime.allocate(16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> runtime.launch(runtime.kernel("scale"),
                    new int[] {1, 65536}, new int[] {64}, new KernelArgs().buffer(b).buffer(b).i32(4).f32(1)));
            assertTrue(e.getMessage().contains("scale") && e.getMessage().contains("1x65536x1"), e.getMessage());
            assertFalse(driver.calls.stream().anyMatch(c -> c.startsWith("launch")), "nothing was launched");
        }
    }

    @Test
    void buffersAreCheckedForBoundsOwnershipAndState() {
        HostRuntime other = newRuntime();
        try (DeviceBuffer b = runtime.allocate(16); DeviceBuffer foreign = other.allocate(16); Arena host = Arena.ofConfined()) {
            assertThrows(IndexOutOfBoundsException.class, () -> runtime.upload(b, 12, host.allocate(8)));
            assertThrows(IndexOutOfBoundsException.class, () -> runtime.download(b, -1, host.allocate(4)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> runtime.upload(foreign, 0, host.allocate(4)));
            assertTrue(e.getMessage().contains("does not belong to fake:0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> runtime.launch(other.kernel("scale"), new int[] {1}, new int[] {1},
                    new KernelArgs()));
            assertThrows(IllegalArgumentException.class, () -> runtime.launch(runtime.kernel("scale"), new int[] {1, 1, 1, 1},
                    new int[] {1}, new KernelArgs()));
            assertThrows(IllegalArgumentException.class, () -> runtime.launch(runtime.kernel("scale"), new int[] {0},
                    new int[] {1}, new KernelArgs()));
            b.close();
            assertTrue(b.isClosed());
            assertThrows(IllegalStateException.class, () -> new KernelArgs().buffer(b));
            assertThrows(IllegalStateException.class, () -> runtime.download(b, 0, host.allocate(4)));
        } finally {
            other.close();
        }
    }

    @Test
    void outOfMemoryAndMissingKernelsSurfaceAsTheDriverReportsThem() {
        GpuMemoryError oom = assertThrows(GpuMemoryError.class, () -> runtime.allocate(2L << 20));
        assertEquals(2L << 20, oom.requestedBytes());
        assertEquals(0, runtime.liveBuffers(), "a refused allocation leaves nothing behind");
        dev.spillway.bindings.NativeException e = assertThrows(dev.spillway.bindings.NativeException.class,
                () -> runtime.kernel("spw_nonexistent"));
        assertEquals("FAKE_NOT_FOUND", e.status());
        assertThrows(IllegalArgumentException.class, () -> runtime.allocate(0));
    }

    @Test
    void closeFreesLeftoverBuffersThenReleasesModuleAndContext() {
        DeviceBuffer leftover = runtime.allocate(100);
        assertEquals(new DeviceMemory((1 << 20) - 100, 1 << 20), runtime.memory());
        runtime.close();
        assertEquals(0, driver.used, "the leftover buffer was freed");
        assertTrue(leftover.isClosed());
        leftover.close();                                          // after the runtime: nothing more happens
        assertEquals(List.of("module", "context"), released);
        runtime.close();
        assertEquals(List.of("module", "context"), released, "a second close does nothing");
        assertThrows(IllegalStateException.class, () -> runtime.allocate(8));
        assertFalse(driver.calls.isEmpty());
    }
}
