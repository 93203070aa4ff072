package dev.spillway.bindings.nvml;

import static dev.spillway.bindings.nvml.gen.Nvml.*;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.CStrings;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.OutParams;
import dev.spillway.bindings.StatusNames;
import dev.spillway.bindings.nvml.gen.nvmlMemory_st;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An initialized NVML ({@code libnvidia-ml.so.1}), for reading device memory the way
 * {@code nvidia-smi} does, without a CUDA context. Opened by {@link #open} ({@code nvmlInit_v2}) and
 * closed by {@link #close} ({@code nvmlShutdown}); every call's status goes through {@link #check}.
 */
public final class NvmlSession implements AutoCloseable {
    public static final String API = "nvml";
    public static final String SONAME = "libnvidia-ml.so.1";

    private static final StatusNames STATUS_NAMES =
            StatusNames.of(dev.spillway.bindings.nvml.gen.Nvml.class, "nvmlReturn_t", "NVML_SUCCESS", "NVML_ERROR_");

    private boolean closed;

    private NvmlSession() {
    }

    /** Loads NVML and initializes it, or says why it cannot be used (library missing, driver not loaded, …). */
    public static Availability<NvmlSession> open() {
        return Availability.open(NvmlSession::new, session -> check(nvmlInit_v2(), "nvmlInit_v2"), SONAME);
    }

    /** The status checker: throws {@link NvmlException} unless {@code status} is {@code NVML_SUCCESS}. */
    static void check(int status, String call) {
        if (status != NVML_SUCCESS()) {
            throw failure(status, CStrings.read(nvmlErrorString(status)), call);
        }
    }

    /** The exception for a failed call: pure, so tests can check it without NVML. */
    static NativeException failure(int status, String description, String call) {
        String name = STATUS_NAMES.name(status);
        return new NvmlException(name, status, call + ": " + name + (description != null ? " (" + description + ")" : ""));
    }

    public int deviceCount() {
        ensureOpen();
        return OutParams.i32(out -> check(nvmlDeviceGetCount_v2(out), "nvmlDeviceGetCount_v2"));
    }

    public String name(int index) {
        MemorySegment device = handle(index);
        return OutParams.string(96, buf -> check(nvmlDeviceGetName(device, buf, 96), "nvmlDeviceGetName"));
    }

    /** Memory of device {@code index} in NVML's order (PCI bus order, which may differ from CUDA's). */
    public DeviceMemory memory(int index) {
        return memory(handle(index));
    }

    /** Memory of the device at PCI address {@code pciBusId} (as {@code cuDeviceGetPCIBusId} gives it). */
    public DeviceMemory memoryByPciBusId(String pciBusId) {
        ensureOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocateFrom(pciBusId);
            return memory(OutParams.address(out -> check(nvmlDeviceGetHandleByPciBusId_v2(id, out),
                    "nvmlDeviceGetHandleByPciBusId_v2(" + pciBusId + ")")));
        }
    }

    private MemorySegment handle(int index) {
        ensureOpen();
        return OutParams.address(out -> check(nvmlDeviceGetHandleByIndex_v2(index, out), "nvmlDeviceGetHandleByIndex_v2(" + index + ")"));
    }

    private static DeviceMemory memory(MemorySegment device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = nvmlMemory_st.allocate(arena);
            check(nvmlDeviceGetMemoryInfo(device, info), "nvmlDeviceGetMemoryInfo");
            return new DeviceMemory(nvmlMemory_st.free(info), nvmlMemory_st.total(info));
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("NVML session is closed");
        }
    }

    /** {@code nvmlShutdown}. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            check(nvmlShutdown(), "nvmlShutdown");
        }
    }
}
