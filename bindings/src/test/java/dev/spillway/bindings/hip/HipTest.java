package dev.spillway.bindings.hip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.GpuMemoryError;
import org.junit.jupiter.api.Test;

class HipTest {

    /**
     * Where Debian's libamdhip64 is installed but there is no AMD GPU (this project's build
     * machines), the runtime loads and hipGetDeviceCount fails with a named status
     * (hipErrorNoDevice); where the library is absent, the reason names the sonames tried.
     */
    @Test
    void theRuntimeLoadsAndNamesWhyThereIsNoDeviceOrCountsDevices() {
        switch (Hip.load()) {
            case Availability.Unavailable<Hip> u -> {
                assertTrue(u.reason().startsWith("libamdhip64.so.6 or libamdhip64.so.5 "), u.reason());
                assertTrue(u.reason().contains("not found") || u.reason().contains("could not be loaded"), u.reason());
            }
            case Availability.Available<Hip> a -> {
                assertTrue(a.api().runtimeVersion() > 0);
                try {
                    int count = a.api().deviceCount();
                    assertTrue(count > 0, "hipGetDeviceCount succeeds only with devices, got " + count);
                } catch (HipException e) {
                    assertTrue(e.status().startsWith("hipError"), e.status());
                    assertTrue(e.getMessage().startsWith("hipGetDeviceCount: hipError"), e.getMessage());
                    assertEquals("hip", e.api());
                }
            }
        }
    }

    @Test
    void outOfMemoryBecomesGpuMemoryError() {
        GpuMemoryError oom = assertInstanceOf(GpuMemoryError.class,
                Hip.failure(2, "hipErrorOutOfMemory", "out of memory", "hipMalloc(4096 bytes)", 4096));
        assertEquals("hip", oom.api());
        assertEquals(4096, oom.requestedBytes());
        assertEquals("hipMalloc(4096 bytes): hipErrorOutOfMemory (out of memory)", oom.getMessage());
    }

    @Test
    void otherStatusesBecomeHipExceptionsWithoutRepeatingTheName() {
        // HIP 5.2's hipGetErrorString returns the name itself: it is not repeated.
        HipException e = assertInstanceOf(HipException.class,
                Hip.failure(100, "hipErrorNoDevice", "hipErrorNoDevice", "hipGetDeviceCount", -1));
        assertEquals(100, e.code());
        assertEquals("hipGetDeviceCount: hipErrorNoDevice", e.getMessage());
        assertEquals("hipError_t 777", Hip.failure(777, null, null, "hipFree", -1).status());
    }
}
