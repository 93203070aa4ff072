package dev.spillway.bindings.nvml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import org.junit.jupiter.api.Test;

class NvmlSessionTest {

    @Test
    void openingSaysWhyNvmlIsMissingOrReadsEveryDevice() {
        switch (NvmlSession.open()) {
            case Availability.Unavailable<NvmlSession> u -> assertTrue(
                    u.reason().startsWith("libnvidia-ml.so.1 ") || u.reason().startsWith("nvmlInit_v2: NVML_ERROR_"), u.reason());
            case Availability.Available<NvmlSession> a -> {
                try (NvmlSession nvml = a.api()) {
                    int n = nvml.deviceCount();
                    for (int i = 0; i < n; i++) {
                        DeviceMemory m = nvml.memory(i);
                        assertTrue(m.totalBytes() > 0 && m.freeBytes() <= m.totalBytes(), m.toString());
                        assertTrue(!nvml.name(i).isBlank());
                    }
                }
            }
        }
    }

    @Test
    void statusesAreNamedByTheirConstants() {
        NvmlException e = assertInstanceOf(NvmlException.class, NvmlSession.failure(9, "Driver Not Loaded", "nvmlInit_v2"));
        assertEquals("NVML_ERROR_DRIVER_NOT_LOADED", e.status());
        assertEquals("nvmlInit_v2: NVML_ERROR_DRIVER_NOT_LOADED (Driver Not Loaded)", e.getMessage());
        assertEquals("nvml", e.api());
        assertEquals("NVML_ERROR_UNKNOWN", NvmlSession.failure(999, null, "x").status());
        assertEquals("nvmlReturn_t 4242", NvmlSession.failure(4242, null, "x").status());
    }
}
