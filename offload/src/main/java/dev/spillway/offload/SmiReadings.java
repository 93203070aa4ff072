package dev.spillway.offload;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.cuda.Cuda;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.bindings.nvml.NvmlSession;
import dev.spillway.bindings.rocmsmi.RocmSmiSession;
import dev.spillway.offload.device.DeviceInfo;

/**
 * Device memory as the vendors' management libraries report it (what {@code nvidia-smi} and
 * {@code rocm-smi} show), for benchmarks: NVML for CUDA devices, ROCm SMI for HIP devices, each
 * matched to the runtime's device by PCI bus id. Each reading opens and closes its session.
 *
 * <p>Readings are taken only on request ({@code spillway devices --smi}, {@code spillway bench}) of
 * devices discovery listed, so the driver is known to be there: unlike discovery, nothing here looks
 * for the driver's nodes before loading a library.
 */
public final class SmiReadings {
    private SmiReadings() {
    }

    /**
     * One reading.
     *
     * @param source {@code nvml} or {@code rocm-smi}
     * @param memory the reading; null when {@code reason} says why there is none
     * @param reason why there is no reading (library missing, device not found, …); null with a reading
     */
    public record Reading(String source, DeviceMemory memory, String reason) {
        public String describe() {
            if (memory == null) {
                return source + ": " + reason;
            }
            return String.format("%s: %s used of %s", source, dev.spillway.api.MemoryInfo.human(memory.usedBytes()),
                    dev.spillway.api.MemoryInfo.human(memory.totalBytes()));
        }
    }

    /** Reads {@code device}'s memory through NVML (cuda) or ROCm SMI (hip); OpenCL devices have no such reading. */
    public static Reading read(DeviceInfo device) {
        return switch (device.api()) {
            case Cuda.API -> nvml(device.index());
            case Hip.API -> rocmSmi(device.index());
            default -> new Reading("none", null, device.api() + " has no management-library reading");
        };
    }

    private static Reading nvml(int index) {
        Cuda cuda;
        switch (Cuda.load()) {
            case Availability.Unavailable<Cuda> u -> {
                return new Reading(NvmlSession.API, null, u.reason());
            }
            case Availability.Available<Cuda> a -> cuda = a.api();
        }
        return switch (NvmlSession.open()) {
            case Availability.Unavailable<NvmlSession> u -> new Reading(NvmlSession.API, null, u.reason());
            case Availability.Available<NvmlSession> a -> {
                try (NvmlSession nvml = a.api()) {
                    cuda.init();
                    yield new Reading(NvmlSession.API, nvml.memoryByPciBusId(cuda.pciBusId(cuda.device(index))), null);
                } catch (NativeException e) {
                    yield new Reading(NvmlSession.API, null, e.getMessage());
                }
            }
        };
    }

    private static Reading rocmSmi(int index) {
        Hip hip;
        switch (Hip.load()) {
            case Availability.Unavailable<Hip> u -> {
                return new Reading(RocmSmiSession.API, null, u.reason());
            }
            case Availability.Available<Hip> a -> hip = a.api();
        }
        return switch (RocmSmiSession.open()) {
            case Availability.Unavailable<RocmSmiSession> u -> new Reading(RocmSmiSession.API, null, u.reason());
            case Availability.Available<RocmSmiSession> a -> {
                try (RocmSmiSession smi = a.api()) {
                    String bus = hip.pciBusId(index).toLowerCase(java.util.Locale.ROOT);
                    for (int i = 0; i < smi.deviceCount(); i++) {
                        if (smi.pciBusId(i).equals(bus)) {
                            yield new Reading(RocmSmiSession.API, smi.memory(i), null);
                        }
                    }
                    yield new Reading(RocmSmiSession.API, null, "no ROCm SMI device at PCI " + bus);
                } catch (NativeException e) {
                    yield new Reading(RocmSmiSession.API, null, e.getMessage());
                }
            }
        };
    }
}
