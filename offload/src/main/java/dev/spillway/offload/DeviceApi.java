package dev.spillway.offload;

import dev.spillway.engine.backend.Sizing;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.OffloadBackend;
import java.util.List;
import java.util.Optional;

/**
 * One device API (CUDA, HIP, OpenCL; TornadoVM from the optional {@code tornado} module, found with
 * {@link java.util.ServiceLoader}) as discovery and {@code Model.load} use it: what devices it has
 * here, or why it has none, and a backend on one of them.
 */
public interface DeviceApi {

    /** {@code cuda}, {@code hip}, {@code opencl} or {@code tornado}: the API part of {@code --device API:INDEX}. */
    String api();

    /**
     * The API's devices, or the one-line reason there are none (library missing, driver without
     * devices, …). Absent libraries and drivers are reported, never thrown.
     */
    Listing list();

    /**
     * Why this API cannot have a GPU here, known without loading its library (no driver installed,
     * or only drivers for the CPU), or empty when it may. Automatic device choice, which runs on
     * every load, asks this first and skips the API; {@link #list()} still lists everything.
     */
    default Optional<String> noGpuReason() {
        return Optional.empty();
    }

    /**
     * Opens a runtime on device {@code index} of {@link #list()}; the caller owns and closes it.
     *
     * @throws dev.spillway.bindings.NativeException when the API refuses
     * @throws IllegalStateException when the API cannot be used here
     */
    DeviceRuntime open(int index);

    /**
     * Opens a backend on {@code device} (one of {@link #list()}'s); the caller owns and closes it. The
     * default runs the shared kernels ({@link DeviceBackend}) on {@link #open}'s runtime, and measures
     * the runtime's own cost where the API reports free memory before and after opening it.
     *
     * @param options the budget, the monitor's account and the allocation gate, read in one place by the caller
     * @throws dev.spillway.bindings.NativeException when the API refuses
     * @throws IllegalStateException when the API cannot be used here
     */
    default OffloadBackend openBackend(DeviceInfo device, DeviceBackend.Options options) {
        DeviceRuntime runtime = open(device.index());
        try {
            long before = device.freeBytes();
            long after = runtime.device().freeBytes();
            long runtimeBytes = before >= 0 && after >= 0 ? Math.max(0, before - after) : -1;
            return new DeviceBackend(runtime, options.withRuntimeBytes(runtimeBytes));
        } catch (RuntimeException | Error e) {
            runtime.close();
            throw e;
        }
    }

    /** What this API's backends allocate, for plans made before a device is opened. */
    default Sizing sizing() {
        return DeviceBackend.SIZING;
    }

    /**
     * What {@link #list()} found.
     *
     * @param api     the API
     * @param devices its devices, in index order; empty when {@code reason} says why
     * @param reason  why there are no devices; null when there are
     */
    record Listing(String api, List<DeviceInfo> devices, String reason) {
        public Listing {
            devices = List.copyOf(devices);
            if (devices.isEmpty() == (reason == null)) {
                throw new IllegalArgumentException(api + ": a listing has devices or a reason, not both or neither");
            }
            if (reason != null && (reason.isBlank() || reason.contains("\n"))) {
                throw new IllegalArgumentException(api + ": a reason is one non-blank line, got: " + reason);
            }
        }

        public static Listing of(String api, List<DeviceInfo> devices) {
            return new Listing(api, devices, null);
        }

        public static Listing none(String api, String reason) {
            return new Listing(api, List.of(), reason);
        }
    }
}
