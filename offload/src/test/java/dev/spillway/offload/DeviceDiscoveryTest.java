package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.hip.HipDevices;
import dev.spillway.offload.opencl.OpenClDevices;
import dev.spillway.offload.opencl.OpenClTestSupport;
import org.junit.jupiter.api.Test;

/**
 * The real APIs on whatever machine runs the tests. On the project's build machines there is no
 * NVIDIA driver, Debian's HIP runtime is installed without an AMD GPU, and PoCL provides an OpenCL
 * CPU device; elsewhere the same assertions hold for the forms of the answers.
 */
class DeviceDiscoveryTest {

    @Test
    void cudaListsDevicesOrSaysWhyNot() {
        DeviceApi.Listing l = new CudaDevices().list();
        assertEquals("cuda", l.api());
        if (l.devices().isEmpty()) {
            // The loader's reason, or the driver's status name (e.g. cuInit: CUDA_ERROR_NO_DEVICE (…)).
            assertTrue(l.reason().matches("libcuda\\.so\\.1 (not found|found but could not be loaded).*")
                    || l.reason().matches("cu[A-Za-z_0-9]+(\\(.*\\))?: (CUDA_ERROR_[A-Z_]+|the driver sees no CUDA device).*"), l.reason());
        } else {
            checkDevices(l, "NVIDIA");
        }
    }

    @Test
    void hipListsDevicesOrSaysWhyNot() {
        DeviceApi.Listing l = new HipDevices().list();
        assertEquals("hip", l.api());
        if (l.devices().isEmpty()) {
            assertTrue(l.reason().matches("libamdhip64\\.so\\.6 or libamdhip64\\.so\\.5 (not found|found but could not be loaded).*")
                    || l.reason().matches("hip[A-Za-z]+(\\(.*\\))?: (hipError[A-Za-z]+|the runtime sees no HIP device).*"), l.reason());
        } else {
            checkDevices(l, "AMD");
        }
    }

    @Test
    void openClListsPoclWhereItIsInstalled() {
        OpenClTestSupport.assumeOpenCl();
        DeviceApi.Listing l = new OpenClDevices().list();
        assertFalse(l.devices().isEmpty(), l.reason());
        for (DeviceInfo d : l.devices()) {
            assertTrue(d.totalBytes() > 0 && !d.name().isBlank(), d.toString());
        }
    }

    private static void checkDevices(DeviceApi.Listing l, String vendor) {
        for (int i = 0; i < l.devices().size(); i++) {
            DeviceInfo d = l.devices().get(i);
            assertEquals(i, d.index());
            assertEquals(vendor, d.vendor());
            assertTrue(d.totalBytes() > 0 && d.freeBytes() <= d.totalBytes() && !d.name().isBlank(), d.toString());
        }
    }
}
