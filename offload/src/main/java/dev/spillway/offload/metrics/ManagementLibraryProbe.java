package dev.spillway.offload.metrics;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.cuda.Cuda;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.bindings.nvml.NvmlSession;
import dev.spillway.bindings.rocmsmi.RocmSmiSession;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Device memory through a vendor management library, NVML for a CUDA device or ROCm SMI for a HIP
 * device, with its session open for the probe's life ({@link #close} shuts it down). The device is
 * matched to the runtime's by PCI bus id, as {@link dev.spillway.offload.SmiReadings} does.
 * Utilization and power are not read (the bindings declare only the memory calls): NaN.
 */
final class ManagementLibraryProbe implements MemoryProbe {
    private final String source;
    private final AutoCloseable session;
    private final Supplier<DeviceMemory> memory;
    private String reason;
    private boolean closed;

    private ManagementLibraryProbe(String source, AutoCloseable session, Supplier<DeviceMemory> memory) {
        this.source = source;
        this.session = session;
        this.memory = memory;
    }

    /** NVML for CUDA device {@code index}, or why not. */
    static Availability<MemoryProbe> nvml(int index) {
        Cuda cuda;
        switch (Cuda.load()) {
            case Availability.Unavailable<Cuda> u -> {
                return new Availability.Unavailable<>(NvmlSession.API + ": " + u.reason());
            }
            case Availability.Available<Cuda> a -> cuda = a.api();
        }
        return switch (NvmlSession.open()) {
            case Availability.Unavailable<NvmlSession> u -> new Availability.Unavailable<>(NvmlSession.API + ": " + u.reason());
            case Availability.Available<NvmlSession> a -> {
                NvmlSession nvml = a.api();
                try {
                    cuda.init();
                    String bus = cuda.pciBusId(cuda.device(index));
                    yield checked(new ManagementLibraryProbe(NvmlSession.API + " cuda:" + index + " (" + bus + ")", nvml,
                            () -> nvml.memoryByPciBusId(bus)));
                } catch (NativeException e) {
                    closeQuietly(nvml);
                    yield new Availability.Unavailable<>(NvmlSession.API + ": " + e.getMessage());
                }
            }
        };
    }

    /**
     * CUDA device {@code index}'s PCI bus id (e.g. {@code 00000000:01:00.0}), which nvidia-smi's
     * {@code -i} takes: nvidia-smi numbers GPUs in PCI order, CUDA fastest first. Empty when CUDA
     * cannot tell.
     */
    static java.util.Optional<String> cudaBusId(int index) {
        if (Cuda.load() instanceof Availability.Available<Cuda> a) {
            try {
                a.api().init();
                return java.util.Optional.of(a.api().pciBusId(a.api().device(index)));
            } catch (NativeException e) {
                return java.util.Optional.empty();
            }
        }
        return java.util.Optional.empty();
    }

    /** ROCm SMI for HIP device {@code index}, or why not. */
    static Availability<MemoryProbe> rocmSmi(int index) {
        Hip hip;
        switch (Hip.load()) {
            case Availability.Unavailable<Hip> u -> {
                return new Availability.Unavailable<>(RocmSmiSession.API + ": " + u.reason());
            }
            case Availability.Available<Hip> a -> hip = a.api();
        }
        return switch (RocmSmiSession.open()) {
            case Availability.Unavailable<RocmSmiSession> u -> new Availability.Unavailable<>(RocmSmiSession.API + ": " + u.reason());
            case Availability.Available<RocmSmiSession> a -> {
                RocmSmiSession smi = a.api();
                try {
                    String bus = hip.pciBusId(index).toLowerCase(Locale.ROOT);
                    for (int i = 0; i < smi.deviceCount(); i++) {
                        if (smi.pciBusId(i).equals(bus)) {
                            int smiIndex = i;
                            yield checked(new ManagementLibraryProbe(RocmSmiSession.API + " hip:" + index + " (" + bus + ")", smi,
                                    () -> smi.memory(smiIndex)));
                        }
                    }
                    closeQuietly(smi);
                    yield new Availability.Unavailable<>(RocmSmiSession.API + ": no ROCm SMI device at PCI " + bus);
                } catch (NativeException e) {
                    closeQuietly(smi);
                    yield new Availability.Unavailable<>(RocmSmiSession.API + ": " + e.getMessage());
                }
            }
        };
    }

    /** The probe if a first reading works; else it is closed and the reason returned. */
    private static Availability<MemoryProbe> checked(ManagementLibraryProbe probe) {
        if (probe.read().isPresent()) {
            return new Availability.Available<>(probe);
        }
        String why = probe.reason;
        probe.close();
        return new Availability.Unavailable<>(why);
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public Optional<Reading> read() {
        if (closed) {
            throw new IllegalStateException(source + " is closed");
        }
        try {
            DeviceMemory m = memory.get();
            reason = null;
            return Optional.of(Reading.memory(m.usedBytes(), m.totalBytes()));
        } catch (NativeException | IllegalArgumentException e) {
            reason = source + ": " + e.getMessage();
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> reason() {
        return Optional.ofNullable(reason);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            closeQuietly(session);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // shutting down a management session that failed: nothing more to do
        }
    }
}
