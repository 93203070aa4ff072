package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.opencl.ClInfo;
import dev.spillway.bindings.opencl.ClStatus;
import dev.spillway.bindings.opencl.OpenClException;
import dev.spillway.bindings.opencl.gen.OpenCl;
import dev.spillway.offload.device.DeviceBuffer;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.KernelArgs;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenCL runtime and the status checker, on the machine's OpenCL (PoCL here and in CI). */
class OpenClRuntimeTest {

    @BeforeAll
    static void needsOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    @Test
    void statusNamesComeFromTheGeneratedConstants() {
        assertEquals("CL_SUCCESS", ClStatus.name(0));
        assertEquals("CL_INVALID_KERNEL_NAME", ClStatus.name(OpenCl.CL_INVALID_KERNEL_NAME()));
        assertEquals("CL_DEVICE_NOT_FOUND", ClStatus.name(-1), "CL_DEVICE_TYPE_ALL's -1 is not taken for a status");
        assertEquals("CL_UNKNOWN_ERROR(-12345)", ClStatus.name(-12345));
        ClStatus.check(OpenCl.CL_SUCCESS(), "nothing");
        OpenClException e = assertThrows(OpenClException.class, () -> ClStatus.check(OpenCl.CL_INVALID_VALUE(), "clThing"));
        assertEquals("CL_INVALID_VALUE", e.status());
        assertEquals("opencl", e.api());
        assertEquals(OpenCl.CL_INVALID_VALUE(), e.code());
        assertTrue(e.getMessage().startsWith("clThing failed: CL_INVALID_VALUE"), e.getMessage());
        ClStatus.check(OpenCl.CL_SUCCESS(), "clSetKernelArg", "spw_add", 2);
        OpenClException arg = assertThrows(OpenClException.class,
                () -> ClStatus.check(OpenCl.CL_INVALID_ARG_SIZE(), "clSetKernelArg", "spw_add", 2));
        assertTrue(arg.getMessage().startsWith("clSetKernelArg(spw_add, 2) failed: CL_INVALID_ARG_SIZE"), arg.getMessage());
    }

    /** CL_DEVICE_TYPE's bits name the kind; PoCL's devices are the host's cores. */
    @Test
    void theDeviceTypeGivesTheKind() {
        assertEquals(DeviceKind.CPU, OpenClRuntime.kind(OpenCl.CL_DEVICE_TYPE_CPU()));
        assertEquals(DeviceKind.GPU, OpenClRuntime.kind(OpenCl.CL_DEVICE_TYPE_GPU() | OpenCl.CL_DEVICE_TYPE_DEFAULT()));
        assertEquals(DeviceKind.ACCELERATOR, OpenClRuntime.kind(OpenCl.CL_DEVICE_TYPE_ACCELERATOR()));
        assertEquals(DeviceKind.OTHER, OpenClRuntime.kind(16));   // CL_DEVICE_TYPE_CUSTOM
        for (OpenClRuntime.ClDevice d : OpenClRuntime.listDevices()) {
            assertEquals(OpenClRuntime.kind(ClInfo.deviceType(d.device())), d.info().kind());
            if (d.info().vendor().startsWith("Portable Computing Language")) {
                assertEquals(DeviceKind.CPU, d.info().kind(), d.info().toString());
            }
        }
    }

    /** The version prefix of CL_PLATFORM_VERSION / CL_DEVICE_VERSION picks the queue call: 1.x platforms lack the 2.0 one. */
    @Test
    void theQueueIsCreatedWithTheCallThePlatformHas() {
        assertEquals(102, ClInfo.version("OpenCL 1.2 CUDA 12.4.131"));
        assertEquals(300, ClInfo.version("OpenCL 3.0 PoCL 6.0+debian  Linux, None+Asserts, RELOC, LLVM 18.1.8, SLEEF"));
        assertEquals(201, ClInfo.version("OpenCL 2.1 AMD-APP (3635.0)"));
        assertEquals(0, ClInfo.version("not a version"));
        assertFalse(OpenClRuntime.queueWithProperties("OpenCL 1.2 pocl", "OpenCL 1.2 pocl"));
        assertFalse(OpenClRuntime.queueWithProperties("OpenCL 3.0 PoCL", "OpenCL 1.2 device"), "a 1.2 device on a 3.0 platform");
        assertFalse(OpenClRuntime.queueWithProperties("OpenCL 1.1 old", "OpenCL 2.0 device"));
        assertFalse(OpenClRuntime.queueWithProperties("garbage", "OpenCL 3.0"), "unknown counts as 1.x");
        assertTrue(OpenClRuntime.queueWithProperties("OpenCL 3.0 PoCL", "OpenCL 3.0 PoCL"));
        assertTrue(OpenClRuntime.queueWithProperties("OpenCL 2.0 x", "OpenCL 2.1 y"));
    }

    /** The OpenCL 1.x queue call works too (PoCL, a 3.0 platform, still has it): a launch and a read on it. */
    @Test
    void theOpenCl1QueueRunsKernels() {
        try (OpenClRuntime runtime = OpenClRuntime.openWithOpenCl1Queue(0); Arena arena = Arena.ofConfined()) {
            DeviceBuffer a = runtime.allocate(16);
            MemorySegment host = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1, 2, 3, 4);
            runtime.upload(a, 0, host);
            runtime.launch(runtime.kernel("spw_add"), new int[] {1, 1, 1}, new int[] {256, 1, 1}, new KernelArgs().buffer(a).buffer(a).i32(4));
            MemorySegment back = arena.allocate(16, 4);
            runtime.download(a, 0, back);
            assertArrayEquals(new float[] {2, 4, 6, 8}, back.toArray(ValueLayout.JAVA_FLOAT));
            a.close();
        }
    }

    @Test
    void outOfMemoryStatusesAreGpuMemoryErrors() {
        for (int status : new int[] {OpenCl.CL_MEM_OBJECT_ALLOCATION_FAILURE(), OpenCl.CL_OUT_OF_RESOURCES(),
                OpenCl.CL_OUT_OF_HOST_MEMORY()}) {
            GpuMemoryError e = assertThrows(GpuMemoryError.class, () -> ClStatus.check(status, "clCreateBuffer", 4096));
            assertEquals(ClStatus.name(status), e.status());
            assertEquals(4096, e.requestedBytes());
            assertTrue(e.getMessage().contains("4096 bytes"), e.getMessage());
        }
    }

    @Test
    void devicesAreListedAcrossPlatforms() {
        List<DeviceInfo> devices = OpenClBackend.devices();
        assertFalse(devices.isEmpty());
        for (int i = 0; i < devices.size(); i++) {
            DeviceInfo d = devices.get(i);
            assertEquals("opencl", d.api());
            assertEquals(i, d.index());
            assertEquals("opencl:" + i, d.id());
            assertFalse(d.name().isBlank());
            assertTrue(d.totalBytes() > 0, d.toString());
            assertEquals(-1, d.freeBytes(), "OpenCL cannot tell free memory");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OpenClRuntime.open(devices.size()));
        assertTrue(e.getMessage().contains("no OpenCL device " + devices.size()), e.getMessage());
    }

    @Test
    void anUnknownKernelIsReportedByItsApiName() {
        try (OpenClRuntime runtime = OpenClRuntime.open(0)) {
            OpenClException e = assertThrows(OpenClException.class, () -> runtime.kernel("spw_no_such_kernel"));
            assertEquals("CL_INVALID_KERNEL_NAME", e.status());
            assertTrue(e.getMessage().contains("spw_no_such_kernel"), e.getMessage());
            assertSame(runtime.kernel("spw_add"), runtime.kernel("spw_add"), "kernels are created once");
        }
    }

    @Test
    void aBuildFailureCarriesTheBuildLog() {
        String broken = "__kernel void spw_broken(__global float *x) { x[0] = this_is_not_declared; }\n";
        NativeException e = assertThrows(NativeException.class, () -> OpenClRuntime.open(0, broken).close());
        assertEquals("CL_BUILD_PROGRAM_FAILURE", e.status());
        assertTrue(e.getMessage().contains("this_is_not_declared"), "the build log names the error: " + e.getMessage());
    }

    /** Raw runtime use: upload, a launch of spw_add over 1000 floats (4 groups, the last partial), download. */
    @Test
    void uploadLaunchAndDownloadRoundTrip() {
        int n = 1000;
        try (OpenClRuntime runtime = OpenClRuntime.open(0); Arena arena = Arena.ofConfined()) {
            DeviceBuffer a = runtime.allocate(4L * n);
            DeviceBuffer b = runtime.allocate(4L * n);
            MemorySegment host = arena.allocate(4L * n, 4);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = i * 0.5f;
            }
            MemorySegment.copy(x, 0, host, ValueLayout.JAVA_FLOAT, 0, n);
            runtime.upload(a, 0, host);
            runtime.upload(b, 0, host);
            DeviceRuntime.Kernel add = runtime.kernel("spw_add");
            runtime.launch(add, new int[] {4, 1, 1}, new int[] {256, 1, 1}, new KernelArgs().buffer(a).buffer(b).i32(n));
            MemorySegment back = arena.allocate(4L * n, 4);
            runtime.download(a, 0, back);
            float[] y = back.toArray(ValueLayout.JAVA_FLOAT);
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) {
                expected[i] = 2 * x[i];
            }
            assertArrayEquals(expected, y);
            assertThrows(IllegalArgumentException.class, () -> runtime.upload(a, 4L * n - 4, host),
                    "a copy past the end of the buffer");
            assertThrows(IllegalArgumentException.class, () -> runtime.upload(a, 0, MemorySegment.ofArray(x)),
                    "runtimes take native memory only");
            b.close();
            assertTrue(b.isClosed());
            assertThrows(IllegalStateException.class, () -> new KernelArgs().buffer(b));
            a.close();
        }
    }

    @Test
    void aLaunchWithMissingArgumentsIsAnOpenClError() {
        try (OpenClRuntime runtime = OpenClRuntime.open(0)) {
            DeviceBuffer a = runtime.allocate(64);
            try {
                NativeException e = assertThrows(NativeException.class, () -> runtime.launch(runtime.kernel("spw_swiglu"),
                        new int[] {1, 1, 1}, new int[] {256, 1, 1}, new KernelArgs().buffer(a)));
                assertInstanceOf(OpenClException.class, e);
                assertEquals("CL_INVALID_KERNEL_ARGS", e.status());
                assertTrue(e.getMessage().startsWith("clEnqueueNDRangeKernel(spw_swiglu, 1x1x1 groups of 256x1x1) failed"),
                        "the failure names the kernel and the grid: " + e.getMessage());
            } finally {
                a.close();
            }
        }
    }
}
