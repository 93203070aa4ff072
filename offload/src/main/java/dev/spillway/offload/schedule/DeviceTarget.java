package dev.spillway.offload.schedule;

import dev.spillway.engine.backend.Sizing;
import dev.spillway.engine.memory.MemoryAccount;

/**
 * A device as the planner sees it.
 *
 * @param id           {@code opencl:0}, {@code cuda:1}; or {@code device} for a hypothetical device of a size
 * @param sizing       what its backend allocates
 * @param budgetBytes  the memory monitor's budget ({@code --device-memory}, else the device's memory)
 * @param freeBytes    free memory the API reports after the runtime opened; -1 where it cannot tell (OpenCL)
 * @param runtimeBytes the API's fixed cost measured at open (context, module, staging); -1 when not measured
 * @param marginBytes  what {@code auto} leaves free
 */
public record DeviceTarget(String id, Sizing sizing, long budgetBytes, long freeBytes, long runtimeBytes, long marginBytes) {

    public DeviceTarget {
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException(id + ": device budget must be positive, got " + budgetBytes);
        }
    }

    /** What a plan may use: the monitor's refusal line or the free memory, whichever is lower, less the margin. */
    public long availableBytes() {
        long limit = MemoryAccount.limitFor(budgetBytes);
        if (freeBytes >= 0) {
            limit = Math.min(limit, freeBytes);
        }
        return Math.max(0, limit - marginBytes);
    }

    /** The same device, known to hold at most {@code bytes} (measured by a failed attempt). */
    public DeviceTarget cappedAt(long bytes) {
        long free = freeBytes >= 0 ? Math.min(freeBytes, bytes + marginBytes) : bytes + marginBytes;
        return new DeviceTarget(id, sizing, budgetBytes, free, runtimeBytes, marginBytes);
    }
}
