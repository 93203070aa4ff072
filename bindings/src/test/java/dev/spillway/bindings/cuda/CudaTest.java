package dev.spillway.bindings.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.NativeException;
import org.junit.jupiter.api.Test;

class CudaTest {

    /**
     * Without an NVIDIA driver (this project's build machines) the reason names libcuda.so.1; with
     * one, the driver answers or fails with a named CUresult, never with a linkage error.
     */
    @Test
    void loadingSaysWhyTheDriverIsMissingOrTheDriverAnswers() {
        switch (Cuda.load()) {
            case Availability.Unavailable<Cuda> u -> {
                assertTrue(u.reason().startsWith("libcuda.so.1 "), u.reason());
                assertTrue(u.reason().contains("not found") || u.reason().contains("could not be loaded"), u.reason());
            }
            case Availability.Available<Cuda> a -> {
                try {
                    a.api().init();
                    assertTrue(a.api().deviceCount() >= 0);
                    assertTrue(a.api().driverVersion() >= 1000, "driver version " + a.api().driverVersion());
                } catch (CudaException e) {
                    assertTrue(e.status().startsWith("CUDA_ERROR_"), e.status());
                    assertTrue(e.getMessage().startsWith("cu"), e.getMessage());
                }
            }
        }
    }

    @Test
    void outOfMemoryBecomesGpuMemoryErrorWithTheRequestedSize() {
        NativeException e = Cuda.failure(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "cuMemAlloc_v2(1048576 bytes)", 1 << 20);
        GpuMemoryError oom = assertInstanceOf(GpuMemoryError.class, e);
        assertEquals("cuda", oom.api());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", oom.status());
        assertEquals(1 << 20, oom.requestedBytes());
        assertEquals("cuMemAlloc_v2(1048576 bytes): CUDA_ERROR_OUT_OF_MEMORY (out of memory)", oom.getMessage());
    }

    @Test
    void otherStatusesBecomeCudaExceptionsNamedByTheDriver() {
        CudaException e = assertInstanceOf(CudaException.class,
                Cuda.failure(100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected", "cuInit", -1));
        assertEquals(100, e.code());
        assertEquals("CUDA_ERROR_NO_DEVICE", e.status());
        assertEquals("cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)", e.getMessage());
        // A code the driver cannot name still gives a usable message.
        CudaException unnamed = assertInstanceOf(CudaException.class, Cuda.failure(12345, null, null, "cuLaunchKernel", -1));
        assertEquals("CUresult 12345", unnamed.status());
        assertEquals("cuLaunchKernel: CUresult 12345", unnamed.getMessage());
    }

    @Test
    void computeCapabilityOrdersAndNamesArchitectures() {
        ComputeCapability ampere = ComputeCapability.ofSm(86);
        assertEquals(new ComputeCapability(8, 6), ampere);
        assertEquals(86, ampere.sm());
        assertEquals("8.6", ampere.toString());
        assertEquals(new ComputeCapability(12, 0), ComputeCapability.ofSm(120));
        assertTrue(ampere.compareTo(ComputeCapability.ofSm(90)) < 0);
        assertThrows(IllegalArgumentException.class, () -> new ComputeCapability(0, 0));
    }

    /** A failed launch names the kernel and its grid, in the message the status checker builds. */
    @Test
    void aLaunchIsDescribedByKernelAndGrid() {
        assertEquals("cuLaunchKernel(spw_rope, grid 1x70000x1, block 256x1x1)",
                dev.spillway.bindings.KernelDriver.describeLaunch("cuLaunchKernel", "spw_rope", new int[] {1, 70000, 1},
                        new int[] {256, 1, 1}));
        NativeException e = Cuda.failure(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument",
                dev.spillway.bindings.KernelDriver.describeLaunch("cuLaunchKernel", "spw_add", new int[] {4, 1, 1},
                        new int[] {256, 1, 1}), -1);
        assertTrue(e.getMessage().startsWith("cuLaunchKernel(spw_add, grid 4x1x1, block 256x1x1): CUDA_ERROR_INVALID_VALUE"),
                e.getMessage());
    }
}
