package dev.spillway.bindings;

/**
 * A native API call failed. Carries the API ({@code opencl}, {@code cuda}, {@code hip}, {@code nvml},
 * {@code rocm-smi}) and the API's own name of the status, e.g. {@code CL_INVALID_KERNEL_NAME}.
 */
public class NativeException extends RuntimeException {
    private final String api;
    private final String status;

    public NativeException(String api, String status, String message) {
        super(message);
        this.api = api;
        this.status = status;
    }

    public String api() {
        return api;
    }

    /** The API's name for the failing status code. */
    public String status() {
        return status;
    }
}
