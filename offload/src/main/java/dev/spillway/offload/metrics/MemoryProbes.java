package dev.spillway.offload.metrics;

import dev.spillway.bindings.Availability;
import dev.spillway.offload.device.DeviceInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Chooses a device's memory probe: for a CUDA device NVML, else {@code nvidia-smi}; for a HIP device
 * ROCm SMI, else {@code rocm-smi}; else none, with the reasons. OpenCL devices (PoCL included) have
 * none: their memory is Spillway's counter ({@link CounterProbe}) and, for PoCL, the process's
 * resident set ({@link #process()}).
 */
public final class MemoryProbes {
    /** How long a tool may take for one reading. */
    public static final Duration TOOL_TIMEOUT = Duration.ofSeconds(5);

    /**
     * Where probes come from, replaceable in tests.
     *
     * @param nvml     NVML for a CUDA device index
     * @param rocmSmi  ROCm SMI for a HIP device index
     * @param commands how tools run
     */
    record Sources(IntFunction<Availability<MemoryProbe>> nvml, IntFunction<Availability<MemoryProbe>> rocmSmi, CommandRunner commands) {
        static Sources system() {
            return new Sources(ManagementLibraryProbe::nvml, ManagementLibraryProbe::rocmSmi, CommandRunner.system(TOOL_TIMEOUT));
        }
    }

    private MemoryProbes() {
    }

    /**
     * The best probe for {@code device}; a probe whose {@code source()} is {@code none} and whose
     * {@code reason()} says what was tried when nothing reads it. The caller closes it.
     */
    public static MemoryProbe forDevice(DeviceInfo device) {
        return forDevice(device, Sources.system());
    }

    static MemoryProbe forDevice(DeviceInfo device, Sources sources) {
        List<String> tried = new ArrayList<>();
        switch (device.api()) {
            case "cuda" -> {
                MemoryProbe p = first(tried, () -> sources.nvml().apply(device.index()),
                        () -> tool(new NvidiaSmi(sources.commands(), Integer.toString(device.index()))));
                if (p != null) {
                    return p;
                }
            }
            case "hip" -> {
                MemoryProbe p = first(tried, () -> sources.rocmSmi().apply(device.index()),
                        () -> tool(new RocmSmiTool(sources.commands(), device.index())));
                if (p != null) {
                    return p;
                }
            }
            default -> tried.add(device.api() + " devices have no management library or tool reading; Spillway's counter and the process's resident set stand in");
        }
        return new NoProbe(String.join("; ", tried));
    }

    /** The process's resident set. */
    public static MemoryProbe process() {
        return new ProcessMemory();
    }

    /** A tool probe if a first reading works. */
    private static Availability<MemoryProbe> tool(MemoryProbe probe) {
        if (probe.read().isPresent()) {
            return new Availability.Available<>(probe);
        }
        return new Availability.Unavailable<>(probe.reason().orElse(probe.source() + ": no reading").replaceAll("\\s+", " "));
    }

    /** The first option that opens, trying them in order; the reasons of those that did not go to {@code tried}. */
    @SafeVarargs
    private static MemoryProbe first(List<String> tried, Supplier<Availability<MemoryProbe>>... options) {
        for (Supplier<Availability<MemoryProbe>> option : options) {
            switch (option.get()) {
                case Availability.Available<MemoryProbe> a -> {
                    return a.api();
                }
                case Availability.Unavailable<MemoryProbe> u -> tried.add(u.reason());
            }
        }
        return null;
    }
}
