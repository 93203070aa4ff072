package dev.spillway.bindings.rocmsmi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import org.junit.jupiter.api.Test;

class RocmSmiSessionTest {

    /** Debian's librocm_smi64 fails rsmi_init without AMD GPUs (no /sys/class/drm devices); elsewhere it may be absent. */
    @Test
    void openingSaysWhyRocmSmiIsUnusableOrReadsEveryDevice() {
        switch (RocmSmiSession.open()) {
            case Availability.Unavailable<RocmSmiSession> u -> assertTrue(
                    u.reason().matches("librocm_smi64\\.so\\.7 or .* (not found|could not be loaded).*")
                            || u.reason().startsWith("rsmi_init: RSMI_STATUS_"), u.reason());
            case Availability.Available<RocmSmiSession> a -> {
                try (RocmSmiSession smi = a.api()) {
                    int n = smi.deviceCount();
                    for (int i = 0; i < n; i++) {
                        DeviceMemory m = smi.memory(i);
                        assertTrue(m.totalBytes() > 0, m.toString());
                        assertTrue(smi.pciBusId(i).matches("\\p{XDigit}{4}:\\p{XDigit}{2}:\\p{XDigit}{2}\\.\\p{XDigit}"));
                    }
                }
            }
        }
    }

    @Test
    void statusNamesComeFromTheConstantsAndProseIsKeptOnce() {
        RocmSmiException init = (RocmSmiException) RocmSmiSession.failure(8, "An error occurred during initialization,\n  during monitor discovery", "rsmi_init");
        assertEquals("RSMI_STATUS_INIT_ERROR", init.status());
        assertEquals("rsmi_init: RSMI_STATUS_INIT_ERROR (An error occurred during initialization, during monitor discovery)", init.getMessage());
        RocmSmiException prefixed = (RocmSmiException) RocmSmiSession.failure(2,
                "RSMI_STATUS_NOT_SUPPORTED: This function is not supported in the current environment.", "rsmi_dev_memory_usage_get");
        assertEquals("rsmi_dev_memory_usage_get: RSMI_STATUS_NOT_SUPPORTED (This function is not supported in the current environment.)",
                prefixed.getMessage());
        assertEquals("rsmi_status_t 4242", RocmSmiSession.failure(4242, null, "x").status());
    }

    @Test
    void bdfIdsFormatAsPciAddresses() {
        long bdf = (0x0001L << 32) | (0x65 << 8) | (0x1f << 3) | 0x7;
        assertEquals("0001:65:1f.7", RocmSmiSession.formatBdf(bdf));
        assertEquals("0000:03:00.0", RocmSmiSession.formatBdf(0x03 << 8));
    }
}
