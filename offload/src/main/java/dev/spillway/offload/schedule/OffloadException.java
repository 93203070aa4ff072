package dev.spillway.offload.schedule;

import dev.spillway.engine.backend.BackendMemoryException;

/**
 * A device ran out of memory and the loader did not retry: {@code --no-fallback} (strict) asked it
 * not to. The message is the report's line; the device's error is the cause.
 */
public final class OffloadException extends BackendMemoryException {
    private final transient LoadReport.Attempt attempt;

    public OffloadException(LoadReport.Attempt attempt, String message, BackendMemoryException cause) {
        super(attempt.device(), attempt.askedBytes(), attempt.inUseBytes(), cause.allocation(), message, cause);
        this.attempt = attempt;
    }

    /** The attempt that failed. */
    public LoadReport.Attempt attempt() {
        return attempt;
    }
}
