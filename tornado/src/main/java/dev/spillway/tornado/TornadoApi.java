package dev.spillway.tornado;

import dev.spillway.engine.backend.Sizing;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.OffloadBackend;
import java.util.Optional;

/**
 * TornadoVM as a device API ({@code --device tornado[:INDEX]}), found by {@code Devices.standard()}
 * through {@link java.util.ServiceLoader}. Its devices are TornadoVM's, numbered across its backends
 * in the order TornadoVM lists them. Automatic device choice never takes it: it is used when named.
 *
 * <p>This class touches no TornadoVM class until TornadoVM's runtime is known to be in the JVM
 * ({@link TornadoRuntimeCheck}), so that a JVM started without TornadoVM's flags lists one line
 * saying why, instead of failing to link.
 */
public final class TornadoApi implements DeviceApi {

    @Override
    public String api() {
        return "tornado";
    }

    @Override
    public Listing list() {
        Optional<String> missing = TornadoRuntimeCheck.missing();
        if (missing.isPresent()) {
            return Listing.none(api(), missing.get());
        }
        return TornadoDevices.list();
    }

    @Override
    public Optional<String> noGpuReason() {
        return Optional.of("used only when named (--device tornado)");
    }

    /** TornadoVM runs its own kernels, not the shared ones: there is no runtime to open. */
    @Override
    public DeviceRuntime open(int index) {
        throw new IllegalStateException("tornado: TornadoVM runs its own kernels; open it with openBackend");
    }

    @Override
    public OffloadBackend openBackend(DeviceInfo device, DeviceBackend.Options options) {
        Optional<String> missing = TornadoRuntimeCheck.missing();
        if (missing.isPresent()) {
            throw new IllegalStateException(missing.get());
        }
        return new TornadoBackend(TornadoDevices.device(device.index()), device, options);
    }

    @Override
    public Sizing sizing() {
        return TornadoBackend.SIZING;
    }
}
