package dev.spillway.bindings.nvml;

import dev.spillway.bindings.NativeException;

/** An NVML call failed; {@link #status()} is the {@code nvmlReturn_t} constant's name, the message has {@code nvmlErrorString}. */
public final class NvmlException extends NativeException {
    private final int code;

    public NvmlException(String status, int code, String message) {
        super(NvmlSession.API, status, message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
