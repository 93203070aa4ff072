package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.DeviceUnavailableException;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Automatic device choice skips OpenCL, without loading its library, when every registered driver
 * is PoCL; any other driver (a GPU's) makes it look. Named requests and listings still see PoCL.
 */
class OpenClDriversTest {
    @TempDir
    Path dir;

    @Test
    void onlyPoclRegisteredMeansNoGpu() throws Exception {
        Files.writeString(dir.resolve("pocl.icd"), "libpocl.so.2.10.0\n");
        Files.writeString(dir.resolve("README"), "not a driver");
        Optional<String> reason = new OpenClDevices(dir).noGpuReason();
        assertTrue(reason.isPresent());
        assertTrue(reason.get().contains("libpocl.so.2.10.0") && reason.get().contains("--device opencl"), reason.get());
        assertTrue(new OpenClDevices(dir.resolve("pocl.icd")).noGpuReason().isPresent(), "OCL_ICD_VENDORS may name one file");
        assertEquals(Optional.empty(), new OpenClDevices(dir, true).noGpuReason(), "drivers named in OCL_ICD_FILENAMES: the loader decides");
    }

    @Test
    void anotherDriverOrNoneMeansLook() throws Exception {
        assertEquals(Optional.empty(), new OpenClDevices(dir).noGpuReason(), "no .icd file: the loader decides");
        assertEquals(Optional.empty(), new OpenClDevices(dir.resolve("missing")).noGpuReason());
        Files.writeString(dir.resolve("pocl.icd"), "libpocl.so.2\n");
        Files.writeString(dir.resolve("nvidia.icd"), "libnvidia-opencl.so.1\n");
        assertEquals(Optional.empty(), new OpenClDevices(dir).noGpuReason());
    }

    /** The reason stands in for the listing: automatic choice never calls list() on that API. */
    @Test
    void automaticChoiceDoesNotListAnApiWithoutAGpu() {
        List<String> listed = new ArrayList<>();
        DeviceApi cpuOnly = new DeviceApi() {
            @Override
            public String api() {
                return "opencl";
            }

            @Override
            public Optional<String> noGpuReason() {
                return Optional.of("only a CPU driver is installed");
            }

            @Override
            public Listing list() {
                listed.add("opencl");
                return Listing.none("opencl", "not listed");
            }

            @Override
            public DeviceRuntime open(int index) {
                throw new UnsupportedOperationException();
            }
        };
        List<String> reasons = new ArrayList<>();
        assertTrue(new Devices(List.of(cpuOnly)).choose(DeviceRequest.AUTO, reasons).isEmpty());
        assertEquals(List.of("opencl: only a CPU driver is installed"), reasons);
        assertEquals(List.of(), listed, "nothing was loaded or listed");
        // A named request lists the API (and here finds nothing, which is an error naming why).
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> new Devices(List.of(cpuOnly)).choose(DeviceRequest.parse("opencl"), new ArrayList<>()));
        assertTrue(e.getMessage().contains("not listed"), e.getMessage());
        assertEquals(List.of("opencl"), listed);
    }
}
