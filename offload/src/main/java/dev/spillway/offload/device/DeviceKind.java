package dev.spillway.offload.device;

/**
 * What kind of processor a device is. CUDA and HIP devices are GPUs; OpenCL says for each device
 * ({@code CL_DEVICE_TYPE}). Automatic device choice skips {@link #CPU} devices (e.g. PoCL): the CPU
 * backend is faster on the same cores.
 */
public enum DeviceKind {
    GPU,
    CPU,
    ACCELERATOR,
    OTHER;

    /** The lower-case name, as {@code spillway devices} prints it. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
