package dev.spillway.offload.opencl;

import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import java.util.List;
import java.util.Optional;

/**
 * Creates {@link DeviceBackend}s over OpenCL devices and lists those devices for discovery.
 *
 * <pre>{@code
 * try (DeviceBackend gpu = OpenClBackend.create(0, DeviceBackend.Options.defaults())) { ... }
 * }</pre>
 */
public final class OpenClBackend {
    private OpenClBackend() {
    }

    /** Why OpenCL cannot be used on this machine, or empty when the library is there. */
    public static Optional<String> unavailableReason() {
        return OpenClRuntime.unavailableReason();
    }

    /** Every OpenCL device ({@code opencl:0}, {@code opencl:1}, …); empty when OpenCL or its platforms are missing. */
    public static List<DeviceInfo> devices() {
        return OpenClRuntime.devices();
    }

    /**
     * A backend on OpenCL device {@code index} (numbered across platforms as {@link #devices()} lists
     * them). The backend owns the runtime; closing it frees the context.
     *
     * @throws IllegalStateException    when OpenCL is not available
     * @throws IllegalArgumentException when there is no such device
     */
    public static DeviceBackend create(int index, DeviceBackend.Options options) {
        OpenClRuntime runtime = OpenClRuntime.open(index);
        try {
            return new DeviceBackend(runtime, options);
        } catch (RuntimeException | Error e) {
            runtime.close();
            throw e;
        }
    }
}
