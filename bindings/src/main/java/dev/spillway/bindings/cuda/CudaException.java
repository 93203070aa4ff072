package dev.spillway.bindings.cuda;

import dev.spillway.bindings.NativeException;

/** A CUDA driver API call returned an error other than out-of-memory; {@link #status()} is its {@code cuGetErrorName}. */
public final class CudaException extends NativeException {
    private final int code;

    public CudaException(String status, int code, String message) {
        super(Cuda.API, status, message);
        this.code = code;
    }

    /** The {@code CUresult} value. */
    public int code() {
        return code;
    }
}
