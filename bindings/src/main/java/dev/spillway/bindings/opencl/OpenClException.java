package dev.spillway.bindings.opencl;

import dev.spillway.bindings.NativeException;

/**
 * An OpenCL call returned an error status (other than the out-of-memory ones, which are
 * {@link dev.spillway.bindings.GpuMemoryError}s). {@link #status()} is the API's name, e.g.
 * {@code CL_INVALID_KERNEL_NAME}; {@link #code()} the numeric status.
 */
public final class OpenClException extends NativeException {
    private final int code;

    public OpenClException(int code, String status, String message) {
        super("opencl", status, message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
