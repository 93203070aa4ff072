package dev.spillway.offload.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.offload.device.DeviceInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The order of the sources: NVML, nvidia-smi; ROCm SMI, rocm-smi; else none with the reasons. */
class MemoryProbesTest {
    private static final DeviceInfo CUDA = new DeviceInfo("cuda", 0, "gpu", "NVIDIA", 1L << 30, 1L << 30);
    private static final DeviceInfo HIP = new DeviceInfo("hip", 1, "gpu", "AMD", 1L << 30, 1L << 30);

    private final List<List<String>> commands = new ArrayList<>();

    private CommandRunner tools(String nvidiaSmiOut, String rocmSmiOut) {
        return cmd -> {
            commands.add(cmd);
            String out = cmd.getFirst().equals("nvidia-smi") ? nvidiaSmiOut : rocmSmiOut;
            return out == null ? CommandRunner.Result.failed(cmd.getFirst() + ": command not found") : new CommandRunner.Result(0, out, null);
        };
    }

    @Test
    void nvmlFirstAndTheToolIsNotRun() {
        MemoryProbe lib = new CounterProbe("nvml cuda:0", () -> 5, 10);
        MemoryProbe p = MemoryProbes.forDevice(CUDA, new MemoryProbes.Sources(i -> new Availability.Available<>(lib),
                i -> new Availability.Unavailable<>("unused"), tools("1, 2, 3, 4\n", null)));
        assertSame(lib, p);
        assertTrue(commands.isEmpty());
    }

    @Test
    void nvidiaSmiWhenNvmlIsMissing() {
        MemoryProbe p = MemoryProbes.forDevice(CUDA, new MemoryProbes.Sources(i -> new Availability.Unavailable<>("nvml: libnvidia-ml.so.1 not found"),
                i -> new Availability.Unavailable<>("unused"), tools("1, 2, 3, 4\n", null)));
        assertEquals("nvidia-smi -i 0", p.source());
        assertEquals(3, p.read().orElseThrow().utilizationPercent());
    }

    /** nvidia-smi numbers GPUs in PCI order: the device is named by CUDA's PCI bus id where CUDA gives one. */
    @Test
    void nvidiaSmiIsAskedForTheCudaDevicesBusId() {
        MemoryProbe p = MemoryProbes.forDevice(CUDA, new MemoryProbes.Sources(i -> new Availability.Unavailable<>("nvml: missing"),
                i -> new Availability.Unavailable<>("unused"), tools("1, 2, 3, 4\n", null),
                i -> java.util.Optional.of("00000000:41:00.0")));
        assertEquals("nvidia-smi -i 00000000:41:00.0", p.source());
        p.read();
        assertTrue(commands.getLast().containsAll(List.of("-i", "00000000:41:00.0")), commands.toString());
    }

    @Test
    void noneWithBothReasons() {
        MemoryProbe p = MemoryProbes.forDevice(CUDA, new MemoryProbes.Sources(i -> new Availability.Unavailable<>("nvml: libnvidia-ml.so.1 not found"),
                i -> new Availability.Unavailable<>("unused"), tools(null, null)));
        assertEquals("none", p.source());
        assertTrue(p.read().isEmpty());
        assertEquals("nvml: libnvidia-ml.so.1 not found; nvidia-smi: command not found", p.reason().orElseThrow());
    }

    @Test
    void rocmSmiLibraryThenTool() {
        MemoryProbe p = MemoryProbes.forDevice(HIP, new MemoryProbes.Sources(i -> new Availability.Unavailable<>("unused"),
                i -> new Availability.Unavailable<>("rocm-smi: librocm_smi64.so.7 not found"),
                tools(null, "{\"card1\": {\"VRAM Total Memory (B)\": \"100\", \"VRAM Total Used Memory (B)\": \"40\"}}")));
        assertEquals("rocm-smi card1", p.source());
        assertEquals(40, p.read().orElseThrow().usedBytes());
        MemoryProbe none = MemoryProbes.forDevice(HIP, new MemoryProbes.Sources(i -> new Availability.Unavailable<>("unused"),
                i -> new Availability.Unavailable<>("rocm-smi: librocm_smi64.so.7 not found"), tools(null, "ERROR:root:Driver not initialized\n")));
        assertEquals("rocm-smi: librocm_smi64.so.7 not found; rocm-smi: ERROR:root:Driver not initialized", none.reason().orElseThrow());
    }

    @Test
    void openClHasNoExternalProbeAndTheRealSourcesNeverThrow() {
        MemoryProbe cl = MemoryProbes.forDevice(new DeviceInfo("opencl", 0, "pocl", "PoCL", 1L << 30, 1L << 30));
        assertEquals("none", cl.source());
        assertTrue(cl.reason().orElseThrow().startsWith("opencl devices have no"), cl.reason().orElseThrow());
        // Here (no GPU, or one): a probe or one line per source tried, never an exception.
        for (DeviceInfo d : List.of(CUDA, HIP)) {
            try (MemoryProbe p = MemoryProbes.forDevice(d)) {
                if (p.source().equals("none")) {
                    String why = p.reason().orElseThrow();
                    assertFalse(why.isBlank() || why.contains("\n"), why);
                } else {
                    assertTrue(p.read().isPresent(), p.source());
                }
            }
        }
        try (MemoryProbe rss = MemoryProbes.process()) {
            assertEquals("process rss", rss.source());
        }
    }

    @Test
    void severalDevicesReadAsOne() {
        MemoryProbe a = new CounterProbe("a", () -> 10, 100);
        MemoryProbe b = new CounterProbe("b", () -> 5, 50);
        try (MemoryProbe both = MemoryProbes.sum(List.of(a, b))) {
            assertEquals("a + b", both.source());
            assertEquals(Reading.memory(15, 150), both.read().orElseThrow());
        }
        assertSame(a, MemoryProbes.sum(List.of(a)));
        MemoryProbe broken = MemoryProbes.sum(List.of(a, new NoProbe("gone")));
        assertTrue(broken.read().isEmpty());
        assertEquals("gone", broken.reason().orElseThrow());
    }
}
