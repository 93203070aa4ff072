package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import dev.spillway.offload.device.DeviceRuntime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Device choice over APIs that report fixed listings (no native code). */
class DevicesTest {

    /** An API with fixed devices or a fixed reason, counting how often it was asked. */
    static final class FixedApi implements DeviceApi {
        final String api;
        final List<DeviceInfo> devices;
        final String reason;
        int listed;

        FixedApi(String api, String reason, DeviceInfo... devices) {
            this.api = api;
            this.devices = List.of(devices);
            this.reason = reason;
        }

        @Override
        public String api() {
            return api;
        }

        @Override
        public Listing list() {
            listed++;
            return devices.isEmpty() ? Listing.none(api, reason) : Listing.of(api, devices);
        }

        @Override
        public DeviceRuntime open(int index) {
            throw new UnsupportedOperationException("not opened in these tests");
        }
    }

    static DeviceInfo dev(String api, int index, long gib) {
        return new DeviceInfo(api, index, api + " device " + index, "test", gib << 30, -1);
    }

    static DeviceInfo dev(String api, int index, long gib, DeviceKind kind) {
        return new DeviceInfo(api, index, api + " " + kind.label() + " " + index, "test", gib << 30, -1, kind);
    }

    final FixedApi cuda = new FixedApi("cuda", "libcuda.so.1 not found (searched LD_LIBRARY_PATH and 11 system folders)");
    final FixedApi hip = new FixedApi("hip", null, dev("hip", 0, 16), dev("hip", 1, 64), dev("hip", 2, 64));
    final FixedApi opencl = new FixedApi("opencl", null, dev("opencl", 0, 8));
    final Devices devices = new Devices(List.of(cuda, hip, opencl));

    @Test
    void automaticChoiceTakesTheFirstApiWithDevicesAndItsLargestDevice() {
        List<String> reasons = new ArrayList<>();
        Devices.Choice c = devices.choose(DeviceRequest.AUTO, reasons).orElseThrow();
        assertEquals("hip:1", c.device().id(), "the first of the two largest HIP devices");
        assertEquals(List.of("cuda: libcuda.so.1 not found (searched LD_LIBRARY_PATH and 11 system folders)"), reasons);
        assertEquals(0, opencl.listed, "OpenCL is not asked once HIP has a device");
    }

    @Test
    void automaticChoiceWithoutAnyDeviceGivesEveryReason() {
        Devices none = new Devices(List.of(cuda, new FixedApi("hip", "hipGetDeviceCount: hipErrorNoDevice")));
        List<String> reasons = new ArrayList<>();
        assertFalse(none.choose(DeviceRequest.AUTO, reasons).isPresent());
        assertEquals(2, reasons.size());
        assertEquals("hip: hipGetDeviceCount: hipErrorNoDevice", reasons.get(1));
    }

    @Test
    void automaticChoiceSkipsCpuDevicesAndSaysHowToNameThem() {
        FixedApi pocl = new FixedApi("opencl", null, dev("opencl", 0, 64, DeviceKind.CPU), dev("opencl", 1, 64, DeviceKind.CPU));
        List<String> reasons = new ArrayList<>();
        assertFalse(new Devices(List.of(cuda, pocl)).choose(DeviceRequest.AUTO, reasons).isPresent());
        assertEquals(List.of(cuda.api + ": " + cuda.reason,
                "opencl: only CPU devices (opencl cpu 0, opencl cpu 1); name one with --device opencl to use it"), reasons);
    }

    @Test
    void automaticChoiceTakesAnApisNonCpuDeviceEvenWithLessMemory() {
        FixedApi mixed = new FixedApi("opencl", null, dev("opencl", 0, 64, DeviceKind.CPU), dev("opencl", 1, 8, DeviceKind.GPU),
                dev("opencl", 2, 4, DeviceKind.ACCELERATOR));
        List<String> reasons = new ArrayList<>();
        assertEquals("opencl:1", new Devices(List.of(cuda, mixed)).choose(DeviceRequest.AUTO, reasons).orElseThrow().device().id());
        assertEquals(1, reasons.size(), "only CUDA's reason: " + reasons);
    }

    @Test
    void automaticChoiceGoesOnPastAnApiWithOnlyCpuDevices() {
        FixedApi cpuOnly = new FixedApi("hip", null, dev("hip", 0, 64, DeviceKind.CPU));
        List<String> reasons = new ArrayList<>();
        assertEquals("opencl:0", new Devices(List.of(cpuOnly, opencl)).choose(DeviceRequest.AUTO, reasons).orElseThrow().device().id());
        assertEquals(List.of("hip: only CPU devices (hip cpu 0); name one with --device hip to use it"), reasons);
    }

    @Test
    void aNamedApiGivesItsCpuDevicesButPrefersOthers() {
        FixedApi pocl = new FixedApi("opencl", null, dev("opencl", 0, 64, DeviceKind.CPU), dev("opencl", 1, 32, DeviceKind.CPU));
        Devices d = new Devices(List.of(cuda, pocl));
        assertEquals("opencl:0", d.choose(DeviceRequest.parse("opencl"), new ArrayList<>()).orElseThrow().device().id());
        assertEquals("opencl:1", d.choose(DeviceRequest.parse("opencl:1"), new ArrayList<>()).orElseThrow().device().id());
        FixedApi mixed = new FixedApi("opencl", null, dev("opencl", 0, 64, DeviceKind.CPU), dev("opencl", 1, 8, DeviceKind.GPU));
        Devices m = new Devices(List.of(mixed));
        assertEquals("opencl:1", m.choose(DeviceRequest.parse("opencl"), new ArrayList<>()).orElseThrow().device().id(),
                "without an index, the GPU rather than the larger CPU device");
        assertEquals("opencl:0", m.choose(DeviceRequest.parse("opencl:0"), new ArrayList<>()).orElseThrow().device().id());
    }

    @Test
    void devicesAreGpusUnlessTheirApiSaysOtherwise() {
        assertEquals(DeviceKind.GPU, new DeviceInfo("cuda", 0, "gpu", "NVIDIA", 1, 1).kind());
        assertEquals(DeviceKind.CPU, dev("opencl", 0, 1, DeviceKind.CPU).kind());
        assertThrows(NullPointerException.class, () -> new DeviceInfo("opencl", 0, "x", "y", 1, 1, null));
    }

    @Test
    void aNamedApiIsTheOnlyOneAsked() {
        assertEquals("opencl:0", devices.choose(DeviceRequest.parse("opencl"), new ArrayList<>()).orElseThrow().device().id());
        assertEquals("hip:2", devices.choose(DeviceRequest.parse("hip:2"), new ArrayList<>()).orElseThrow().device().id());
        assertEquals(0, cuda.listed);
    }

    @Test
    void aMissingNamedDeviceIsAnErrorNamingItAndWhy() {
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> devices.choose(DeviceRequest.parse("cuda"), new ArrayList<>()));
        assertEquals("--device cuda: libcuda.so.1 not found (searched LD_LIBRARY_PATH and 11 system folders)", e.getMessage());
        assertEquals("cuda", e.device());
        e = assertThrows(DeviceUnavailableException.class, () -> devices.choose(DeviceRequest.parse("opencl:3"), new ArrayList<>()));
        assertEquals("--device opencl:3: no such device; opencl has opencl:0 (opencl device 0)", e.getMessage());
        Devices withoutHip = new Devices(List.of(cuda, opencl));
        e = assertThrows(DeviceUnavailableException.class, () -> withoutHip.choose(DeviceRequest.parse("hip"), new ArrayList<>()));
        assertTrue(e.getMessage().contains("this build has no hip backend"), e.getMessage());
    }

    @Test
    void discoveryReportsEveryApiAndTheCpu() {
        Devices.Report r = devices.discover();
        assertEquals(List.of("cuda", "hip", "opencl"), r.listings().stream().map(DeviceApi.Listing::api).toList());
        assertEquals(4, r.devices().size());
        assertTrue(r.cpu().cores() >= 1);
        assertTrue(r.cpu().totalRamBytes() > 0 && r.cpu().freeRamBytes() <= r.cpu().totalRamBytes(), r.cpu().toString());
    }

    @Test
    void listingsHaveDevicesOrAOneLineReason() {
        assertThrows(IllegalArgumentException.class, () -> new DeviceApi.Listing("x", List.of(), null));
        assertThrows(IllegalArgumentException.class, () -> new DeviceApi.Listing("x", List.of(dev("x", 0, 1)), "why"));
        assertThrows(IllegalArgumentException.class, () -> DeviceApi.Listing.none("x", "two\nlines"));
    }

    @Test
    void deviceRequestsParseTheDocumentedForms() {
        assertEquals(new DeviceRequest("cuda", -1), DeviceRequest.parse("cuda"));
        assertEquals(new DeviceRequest("hip", 1), DeviceRequest.parse(" HIP:1 "));
        assertEquals(DeviceRequest.AUTO, DeviceRequest.parse(null));
        assertEquals(DeviceRequest.AUTO, DeviceRequest.parse("auto"));
        assertEquals("opencl:0", DeviceRequest.parse("opencl:0").toString());
        for (String bad : List.of("nonsense", "cuda:", "cuda:x", "cuda:-1", "gpu", "cuda:0:1")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceRequest.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("invalid device '" + bad + "'"), e.getMessage());
        }
    }
}
