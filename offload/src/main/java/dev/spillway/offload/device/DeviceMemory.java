package dev.spillway.offload.device;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.memory.MemoryAccount;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * The device memory of one {@link DeviceBackend}: every allocation goes through {@link #allocate},
 * which enforces the budget and the fault-injection gate before the device API is called, and every
 * buffer goes back through {@link #free}; {@link #allocatedBytes()} is the running total. Device
 * out-of-memory errors become {@link BackendMemoryException}s here, at the seam.
 *
 * <p>Not thread-safe: the backend calls it under its lock.
 */
final class DeviceMemory {
    private final DeviceRuntime runtime;
    private final String backend;
    private final long budget;
    private final AllocationGate gate;
    private final MemoryAccount account;
    private final Set<DeviceBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private long allocated;
    private long attempts;

    DeviceMemory(DeviceRuntime runtime, String backend, long budget, AllocationGate gate, MemoryAccount account) {
        this.runtime = runtime;
        this.backend = backend;
        this.budget = budget;
        this.gate = gate;
        this.account = account;
    }

    long budget() {
        return budget;
    }

    long allocatedBytes() {
        return allocated;
    }

    /**
     * Allocates {@code bytes} for {@code what} (e.g. "weight blk.0.attn_q.weight").
     *
     * @throws BackendMemoryException when the budget, the memory monitor, the gate or the device
     *         refuses (the monitor's refusal is a {@code MemoryLimitException}); nothing stays allocated
     */
    DeviceBuffer allocate(long bytes, String what) {
        if (bytes <= 0) {
            throw new IllegalArgumentException(what + ": cannot allocate " + bytes + " bytes");
        }
        long index = attempts++;
        if (bytes > budget - allocated) {
            throw refused(bytes, "BUDGET_EXCEEDED", what, "over the budget: " + allocated + " of " + budget
                    + " bytes are in use");
        }
        account.reserve(bytes, what);
        DeviceBuffer buffer;
        try {
            if (!gate.allows(index, bytes)) {
                throw refused(bytes, "INJECTED_FAILURE", what, "allocation " + index + " refused by the allocation gate");
            }
            buffer = runtime.allocate(bytes);
        } catch (GpuMemoryError e) {
            account.release(bytes);
            throw translate(e, bytes, what, "cannot allocate " + bytes + " bytes for " + what);
        } catch (RuntimeException | Error e) {
            account.release(bytes);
            throw e;
        }
        live.add(buffer);
        allocated += bytes;
        return buffer;
    }

    /** Frees a buffer {@link #allocate} returned; a second call does nothing. */
    void free(DeviceBuffer buffer) {
        if (buffer != null && live.remove(buffer)) {
            allocated -= buffer.byteSize();
            account.release(buffer.byteSize());
            buffer.close();
        }
    }

    /** Frees every buffer still live (the backend closing with handles left open). */
    int freeAll() {
        int n = live.size();
        for (DeviceBuffer b : java.util.List.copyOf(live)) {
            free(b);
        }
        return n;
    }

    private BackendMemoryException refused(long bytes, String status, String what, String why) {
        String message = backend + ": cannot allocate " + bytes + " bytes for " + what + ": " + why;
        return new BackendMemoryException(backend, bytes, allocated, what, message,
                new GpuMemoryError(runtime.api(), status, bytes, message));
    }

    /** The engine's exception for a device out-of-memory error, naming the backend and the bytes. */
    BackendMemoryException translate(GpuMemoryError e, long bytes, String what, String doing) {
        long requested = bytes >= 0 ? bytes : e.requestedBytes();
        return new BackendMemoryException(backend, requested, allocated, what, backend + ": " + doing + ": " + e.getMessage(), e);
    }
}
