package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.DeviceMemory;
import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.hip.HipDevices;
import org.junit.jupiter.api.Test;

/** NVML / ROCm SMI readings: a reading where the device exists, otherwise one line saying why not. */
class SmiReadingsTest {

    @Test
    void cudaDevicesAreReadThroughNvmlOrTheReasonIsGiven() {
        DeviceApi.Listing cuda = new CudaDevices().list();
        DeviceInfo device = cuda.devices().isEmpty() ? new DeviceInfo("cuda", 0, "absent", "NVIDIA", 1, 1) : cuda.devices().getFirst();
        SmiReadings.Reading r = SmiReadings.read(device);
        assertEquals("nvml", r.source());
        check(r, !cuda.devices().isEmpty());
    }

    @Test
    void hipDevicesAreReadThroughRocmSmiOrTheReasonIsGiven() {
        DeviceApi.Listing hip = new HipDevices().list();
        DeviceInfo device = hip.devices().isEmpty() ? new DeviceInfo("hip", 0, "absent", "AMD", 1, 1) : hip.devices().getFirst();
        SmiReadings.Reading r = SmiReadings.read(device);
        assertEquals("rocm-smi", r.source());
        check(r, !hip.devices().isEmpty());
    }

    @Test
    void describeSaysUsedOfTotal() {
        assertEquals("nvml: 1.00 GiB used of 4.00 GiB", new SmiReadings.Reading("nvml", new DeviceMemory(3L << 30, 4L << 30), null).describe());
        assertEquals("rocm-smi: rsmi_init: RSMI_STATUS_INIT_ERROR", new SmiReadings.Reading("rocm-smi", null, "rsmi_init: RSMI_STATUS_INIT_ERROR").describe());
    }

    private static void check(SmiReadings.Reading r, boolean deviceExists) {
        if (r.memory() != null) {
            assertNull(r.reason());
            assertTrue(r.memory().totalBytes() > 0);
        } else {
            assertTrue(!r.reason().isBlank() && !r.reason().contains("\n"), r.reason());
            if (!deviceExists) {
                assertTrue(r.describe().startsWith(r.source() + ": "), r.describe());
            }
        }
    }
}
