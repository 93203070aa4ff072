package dev.spillway.offload.device;

/**
 * Consulted by a {@link DeviceBackend} before each device allocation, for fault-injection tests: a
 * gate that answers false makes that allocation fail as if the device were out of memory (a
 * {@link dev.spillway.engine.backend.BackendMemoryException} with a {@code GpuMemoryError} cause),
 * before the device API is called. Passed explicitly through {@link DeviceBackend.Options}; there is
 * no global switch.
 */
@FunctionalInterface
public interface AllocationGate {
    /** Lets every allocation through. */
    AllocationGate OPEN = (index, bytes) -> true;

    /**
     * @param index the backend's allocation attempt number, from 0
     * @param bytes the size asked for
     * @return whether the allocation may go ahead
     */
    boolean allows(long index, long bytes);
}
