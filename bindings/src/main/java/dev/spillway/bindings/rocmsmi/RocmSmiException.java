package dev.spillway.bindings.rocmsmi;

import dev.spillway.bindings.NativeException;

/** A ROCm SMI call failed; {@link #status()} is the {@code rsmi_status_t} name from {@code rsmi_status_string}. */
public final class RocmSmiException extends NativeException {
    private final int code;

    public RocmSmiException(String status, int code, String message) {
        super(RocmSmiSession.API, status, message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
