package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.spillway.bindings.Availability;
import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.hip.HipDevices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Driver detection under a fake root, and CUDA/HIP discovery that loads nothing where no driver is. */
class DeviceNodesTest {
    @TempDir
    Path root;

    private Path touch(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        return Files.createFile(p);
    }

    @Test
    void anEmptyRootHasNoDriver() {
        DeviceNodes nodes = new DeviceNodes(root);
        assertEquals(Optional.of("no NVIDIA GPU driver: " + root.resolve("dev/nvidiactl") + ", " + root.resolve("dev/nvidia0")
                + " and " + root.resolve("proc/driver/nvidia") + " not found"), nodes.nvidiaMissing());
        assertEquals(Optional.of("no AMD GPU driver: " + root.resolve("dev/kfd") + " not found"), nodes.amdMissing());
    }

    @Test
    void anyOfNvidiasNodesIsTheDriver() throws IOException {
        touch("dev/nvidia1");
        assertEquals(Optional.empty(), new DeviceNodes(root).nvidiaMissing());
        Files.delete(root.resolve("dev/nvidia1"));
        touch("dev/nvidiactl");
        assertEquals(Optional.empty(), new DeviceNodes(root).nvidiaMissing());
        Files.delete(root.resolve("dev/nvidiactl"));
        Files.createDirectories(root.resolve("proc/driver/nvidia"));
        assertEquals(Optional.empty(), new DeviceNodes(root).nvidiaMissing());
        assertEquals(Optional.of("no AMD GPU driver: " + root.resolve("dev/kfd") + " not found"), new DeviceNodes(root).amdMissing());
    }

    @Test
    void amdNeedsKfdAndARenderNode() throws IOException {
        touch("dev/kfd");
        touch("dev/dri/card0");
        assertEquals(Optional.of("no AMD GPU render node: " + root.resolve("dev/kfd") + " exists but no " + root.resolve("dev/dri/renderD*")),
                new DeviceNodes(root).amdMissing());
        touch("dev/dri/renderD128");
        assertEquals(Optional.empty(), new DeviceNodes(root).amdMissing());
    }

    @Test
    void wslsGpuMayBeEitherVendors() throws IOException {
        touch("dev/dxg");
        assertEquals(Optional.empty(), new DeviceNodes(root).nvidiaMissing());
        assertEquals(Optional.empty(), new DeviceNodes(root).amdMissing());
    }

    @Test
    void withoutTheDriverNeitherApiLoadsItsLibrary() {
        AtomicInteger loads = new AtomicInteger();
        CudaDevices cuda = new CudaDevices(new DeviceNodes(root), () -> {
            loads.incrementAndGet();
            return new Availability.Unavailable<>("loaded");
        });
        HipDevices hip = new HipDevices(new DeviceNodes(root), () -> {
            loads.incrementAndGet();
            return new Availability.Unavailable<>("loaded");
        });
        DeviceApi.Listing c = cuda.list();
        DeviceApi.Listing h = hip.list();
        assertEquals(new DeviceNodes(root).nvidiaMissing().orElseThrow(), c.reason());
        assertEquals("no AMD GPU driver: " + root.resolve("dev/kfd") + " not found", h.reason());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> hip.open(0));
        assertEquals(h.reason(), e.getMessage());
        assertThrows(IllegalStateException.class, () -> cuda.open(0));
        Devices devices = new Devices(java.util.List.of(cuda, hip));
        DeviceUnavailableException named = assertThrows(DeviceUnavailableException.class,
                () -> devices.choose(DeviceRequest.parse("hip"), new java.util.ArrayList<>()));
        assertEquals("--device hip: " + h.reason(), named.getMessage());
        assertEquals(0, loads.get(), "no library was loaded");
    }

    @Test
    void withTheDriverTheLibrarySaysWhy() throws IOException {
        touch("dev/kfd");
        touch("dev/dri/renderD128");
        AtomicInteger loads = new AtomicInteger();
        HipDevices hip = new HipDevices(new DeviceNodes(root), () -> {
            loads.incrementAndGet();
            return new Availability.Unavailable<>("libamdhip64.so.6 or libamdhip64.so.5 not found");
        });
        assertEquals("libamdhip64.so.6 or libamdhip64.so.5 not found", hip.list().reason());
        assertEquals(1, loads.get());
    }
}
