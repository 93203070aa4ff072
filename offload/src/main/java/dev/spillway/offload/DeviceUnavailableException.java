package dev.spillway.offload;

/**
 * The device asked for ({@code --device}, {@code ModelParams.device}) is not there; the message
 * names it and why, e.g. {@code --device cuda: libcuda.so.1 not found (…)}.
 */
public final class DeviceUnavailableException extends RuntimeException {
    private final String device;

    public DeviceUnavailableException(String device, String reason) {
        this(device, reason, null);
    }

    public DeviceUnavailableException(String device, String reason, Throwable cause) {
        super("--device " + device + ": " + reason, cause);
        this.device = device;
    }

    /** The device as requested, e.g. {@code cuda} or {@code hip:1}. */
    public String device() {
        return device;
    }
}
