package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.hip.Hip;
import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import dev.spillway.offload.hip.HipDevices;
import dev.spillway.offload.opencl.OpenClDevices;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real APIs on whatever machine runs the tests. On the project's build machines there is no
 * NVIDIA driver, Debian's HIP runtime is installed without an AMD GPU (and, without /dev/kfd, is not
 * loaded), and PoCL provides an OpenCL CPU device; elsewhere the same assertions hold for the forms
 * of the answers.
 */
class DeviceDiscoveryTest {

    @Test
    void cudaListsDevicesOrSaysWhyNot() {
        DeviceApi.Listing l = new CudaDevices().list();
        assertEquals("cuda", l.api());
        if (l.devices().isEmpty()) {
            // No driver's nodes, the loader's reason, or the driver's status name (e.g. cuInit: CUDA_ERROR_NO_DEVICE (…)).
            assertTrue(l.reason().equals(DeviceNodes.system().nvidiaMissing().orElse(null))
                    || l.reason().matches("libcuda\\.so\\.1 (not found|found but could not be loaded).*")
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
            assertTrue(l.reason().equals(DeviceNodes.system().amdMissing().orElse(null)) || hipsOwnReason(l.reason()), l.reason());
        } else {
            checkDevices(l, "AMD");
        }
    }

    /** Behind a fake AMD driver, HIP is loaded and its own reason (or devices) comes back. */
    @Test
    void hipBehindTheDriversNodesAnswersItself(@TempDir Path root) throws IOException {
        Files.createFile(Files.createDirectories(root.resolve("dev")).resolve("kfd"));
        Files.createFile(Files.createDirectories(root.resolve("dev/dri")).resolve("renderD128"));
        DeviceApi.Listing l = new HipDevices(new DeviceNodes(root), Hip::load).list();
        if (l.devices().isEmpty()) {
            assertTrue(hipsOwnReason(l.reason()), l.reason());
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

    /**
     * Automatic choice never takes a CPU-type device: on the build machines (no GPU, PoCL) it takes
     * none and says that OpenCL has only CPU devices and how to name one.
     */
    @Test
    void automaticChoiceLeavesPoclAlone() {
        OpenClTestSupport.assumeOpenCl();
        Devices devices = Devices.standard();
        boolean anyOther = devices.discover().devices().stream().anyMatch(d -> d.kind() != DeviceKind.CPU);
        List<String> reasons = new ArrayList<>();
        Optional<Devices.Choice> choice = devices.choose(DeviceRequest.AUTO, reasons);
        if (anyOther) {
            assertNotEquals(DeviceKind.CPU, choice.orElseThrow().device().kind());
            return;
        }
        assertTrue(choice.isEmpty(), choice.toString());
        assertEquals(4, reasons.size(), reasons.toString());
        assertTrue(reasons.get(3).startsWith("tornado: "), "TornadoVM, last, is never chosen automatically: " + reasons);
        // Either the registered drivers say it before OpenCL is loaded (only PoCL's .icd), or the listing does.
        String r = reasons.get(2);
        assertTrue(r.startsWith("opencl: only a CPU driver is installed (") && r.endsWith("name it with --device opencl to use it")
                || r.startsWith("opencl: only CPU devices (") && r.endsWith("); name one with --device opencl to use it"), r);
        assertEquals(DeviceKind.CPU, devices.choose(DeviceRequest.parse("opencl"), new ArrayList<>()).orElseThrow().device().kind(),
                "named, it is used");
    }

    /** The loader's reason, or HIP's status name (e.g. {@code hipGetDeviceCount: hipErrorNoDevice}). */
    private static boolean hipsOwnReason(String reason) {
        return reason.matches("libamdhip64\\.so\\.6 or libamdhip64\\.so\\.5 (not found|found but could not be loaded).*")
                || reason.matches("hip[A-Za-z]+(\\(.*\\))?: (hipError[A-Za-z]+|the runtime sees no HIP device).*");
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
