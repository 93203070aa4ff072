package dev.spillway.bindings;

/**
 * A device API reported that it is out of memory ({@code CUDA_ERROR_OUT_OF_MEMORY},
 * {@code hipErrorOutOfMemory}, {@code CL_MEM_OBJECT_ALLOCATION_FAILURE}, {@code CL_OUT_OF_RESOURCES}),
 * or an allocation would exceed the budget Spillway enforces for a device that cannot report it
 * (PoCL). Device backends turn it into the engine's {@code BackendMemoryException} at the seam, so
 * a loader can free that attempt (and, once the scheduler exists, retry with fewer layers on the device).
 */
public class GpuMemoryError extends NativeException {
    private final long requestedBytes;

    public GpuMemoryError(String api, String status, long requestedBytes, String message) {
        super(api, status, message);
        this.requestedBytes = requestedBytes;
    }

    /** Bytes the failed allocation asked for, or -1 when the failing call was not an allocation. */
    public long requestedBytes() {
        return requestedBytes;
    }
}
