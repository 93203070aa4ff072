package dev.spillway.offload.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.bindings.cuda.Cuda;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.RuntimeRoundTrip;
import org.junit.jupiter.api.Test;

/** The CUDA runtime on a real device; skipped, with discovery's reason, where there is none (the build machines). */
class CudaRuntimeTest {

    @Test
    void opensTheCommittedModuleAndRoundTripsMemory() {
        DeviceApi.Listing l = new CudaDevices().list();
        assumeTrue(!l.devices().isEmpty(), () -> "no CUDA device: " + l.reason());
        try (DeviceRuntime rt = new CudaDevices().open(0)) {
            CudaRuntime cuda = (CudaRuntime) rt;
            assertEquals(Cuda.API, rt.api());
            assertTrue(cuda.image().startsWith("cubin sm_") || cuda.image().startsWith("PTX"), cuda.image());
            assertTrue(rt.device().totalBytes() > 0 && rt.device().freeBytes() > 0);
            RuntimeRoundTrip.check(rt);
            assertEquals(0, cuda.liveBuffers());
        }
    }
}
