package dev.spillway.engine.backend;

/**
 * A backend could not allocate memory for a weight, cache or buffer. Device backends throw their
 * {@code GpuMemoryError} as the cause; the memory monitor's refusal is the subclass
 * {@code MemoryLimitException}. The offload loader catches it to retry with fewer layers on the
 * device it names, and uses {@link #inUseBytes()} (what did fit) to size the next attempt.
 */
public class BackendMemoryException extends RuntimeException {
    private final String backend;
    private final long requestedBytes;
    private final long inUseBytes;
    private final String allocation;

    public BackendMemoryException(String backend, long requestedBytes, String message) {
        this(backend, requestedBytes, -1, null, message, null);
    }

    public BackendMemoryException(String backend, long requestedBytes, String message, Throwable cause) {
        this(backend, requestedBytes, -1, null, message, cause);
    }

    public BackendMemoryException(String backend, long requestedBytes, long inUseBytes, String allocation, String message) {
        this(backend, requestedBytes, inUseBytes, allocation, message, null);
    }

    /**
     * @param inUseBytes bytes the backend (or budget) held when the allocation failed, -1 if unknown
     * @param allocation what was being allocated (e.g. {@code weight blk.3.ffn_up.weight}), null if unknown
     */
    public BackendMemoryException(String backend, long requestedBytes, long inUseBytes, String allocation, String message,
                                  Throwable cause) {
        super(message, cause);
        this.backend = backend;
        this.requestedBytes = requestedBytes;
        this.inUseBytes = inUseBytes;
        this.allocation = allocation;
    }

    /** The backend or budget that ran out, e.g. {@code opencl:0}. */
    public String backend() {
        return backend;
    }

    public long requestedBytes() {
        return requestedBytes;
    }

    /** Bytes in use on that backend or budget when the allocation failed; -1 when not known. */
    public long inUseBytes() {
        return inUseBytes;
    }

    /** What was being allocated, or null when not known. */
    public String allocation() {
        return allocation;
    }
}
