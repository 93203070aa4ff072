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
    record Sources(IntFunction<Availability<MemoryProbe>> nvml, IntFunction<Availability<MemoryProbe>> rocmSmi, CommandRunner commands,
                   IntFunction<java.util.Optional<String>> cudaBusId) {
        Sources(IntFunction<Availability<MemoryProbe>> nvml, IntFunction<Availability<MemoryProbe>> rocmSmi, CommandRunner commands) {
            this(nvml, rocmSmi, commands, index -> java.util.Optional.empty());
        }

        static Sources system() {
            return new Sources(ManagementLibraryProbe::nvml, ManagementLibraryProbe::rocmSmi, CommandRunner.system(TOOL_TIMEOUT),
                    ManagementLibraryProbe::cudaBusId);
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
                        // -i by PCI bus id where CUDA tells it: nvidia-smi's indices follow PCI order, CUDA's need not.
                        () -> tool(new NvidiaSmi(sources.commands(),
                                sources.cudaBusId().apply(device.index()).orElse(Integer.toString(device.index())))));
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

    /**
     * Several devices' probes read as one (a split over {@code opencl:0,opencl:1}, two GPUs): used and
     * total bytes and power summed, the highest utilization; empty when any gives nothing. Closing it
     * closes them.
     */
    public static MemoryProbe sum(List<MemoryProbe> probes) {
        if (probes.size() == 1) {
            return probes.getFirst();
        }
        List<MemoryProbe> all = List.copyOf(probes);
        return new MemoryProbe() {
            private String reason;

            @Override
            public String source() {
                return String.join(" + ", all.stream().map(MemoryProbe::source).toList());
            }

            @Override
            public java.util.Optional<Reading> read() {
                long used = 0;
                long total = 0;
                double util = Double.NaN;
                double power = Double.NaN;
                for (MemoryProbe p : all) {
                    java.util.Optional<Reading> r = p.read();
                    if (r.isEmpty()) {
                        reason = p.reason().orElse(p.source() + ": no reading");
                        return r;
                    }
                    used += r.get().usedBytes();
                    total += r.get().totalBytes();
                    util = Double.isNaN(util) ? r.get().utilizationPercent() : Math.max(util, Double.isNaN(r.get().utilizationPercent()) ? util : r.get().utilizationPercent());
                    power = Double.isNaN(power) ? r.get().powerWatts() : power + (Double.isNaN(r.get().powerWatts()) ? 0 : r.get().powerWatts());
                }
                reason = null;
                return java.util.Optional.of(new Reading(used, total, util, power));
            }

            @Override
            public java.util.Optional<String> reason() {
                return java.util.Optional.ofNullable(reason);
            }

            @Override
            public void close() {
                all.forEach(MemoryProbe::close);
            }
        };
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
