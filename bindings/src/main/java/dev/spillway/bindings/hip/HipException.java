package dev.spillway.bindings.hip;

import dev.spillway.bindings.NativeException;

/** A HIP call returned an error other than out-of-memory; {@link #status()} is its {@code hipGetErrorName}. */
public final class HipException extends NativeException {
    private final int code;

    public HipException(String status, int code, String message) {
        super(Hip.API, status, message);
        this.code = code;
    }

    /** The {@code hipError_t} value. */
    public int code() {
        return code;
    }
}
