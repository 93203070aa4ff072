package dev.spillway.api;

import dev.spillway.engine.backend.BackendMemoryException;

/**
 * The memory monitor refused an allocation before it happened: it would have taken a budget past
 * its refusal line ({@value dev.spillway.engine.memory.MemoryAccount#REFUSE_PERCENT} % of the
 * budget). Names the budget (a device such as {@code cuda:0}, or {@code host}), what was being
 * allocated, the bytes asked, the bytes in use and the budget.
 *
 * <p>A {@link BackendMemoryException}, so the offload loader treats a refusal on a device like the
 * device running out, and retries with fewer layers there.
 */
public class MemoryLimitException extends BackendMemoryException {
    private final String what;
    private final long usedBytes;
    private final long budgetBytes;

    public MemoryLimitException(String budget, String what, long requestedBytes, long usedBytes, long budgetBytes,
                                String message) {
        super(budget, requestedBytes, usedBytes, what, message);
        this.what = what;
        this.usedBytes = usedBytes;
        this.budgetBytes = budgetBytes;
    }

    /** What was being allocated, e.g. {@code K cache (512, 256) F16}. */
    public String what() {
        return what;
    }

    /** Bytes of the budget in use when the allocation was asked for. */
    public long usedBytes() {
        return usedBytes;
    }

    /** The budget in bytes (the refusal line is {@value dev.spillway.engine.memory.MemoryAccount#REFUSE_PERCENT} % of it). */
    public long budgetBytes() {
        return budgetBytes;
    }
}
