package dev.spillway.engine.backend;

/**
 * A backend could not allocate memory for a weight, cache or buffer. Device backends throw their
 * {@code GpuMemoryError} as the cause. Today a load that runs out fails with nothing left allocated; the
 * scheduler (planned) will catch this type to retry with fewer layers offloaded.
 */
public class BackendMemoryException extends RuntimeException {
    private final String backend;
    private final long requestedBytes;

    public BackendMemoryException(String backend, long requestedBytes, String message) {
        super(message);
        this.backend = backend;
        this.requestedBytes = requestedBytes;
    }

    public BackendMemoryException(String backend, long requestedBytes, String message, Throwable cause) {
        super(message, cause);
        this.backend = backend;
        this.requestedBytes = requestedBytes;
    }

    public String backend() {
        return backend;
    }

    public long requestedBytes() {
        return requestedBytes;
    }
}
