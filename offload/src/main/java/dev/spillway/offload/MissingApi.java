package dev.spillway.offload;

import dev.spillway.offload.device.DeviceRuntime;
import java.util.Optional;

/**
 * A device API this build or this JVM lacks (TornadoVM without the {@code tornado} module on the
 * class path): listed with the one-line reason, never chosen automatically, and refused with the
 * reason when named.
 *
 * @param api    the API's name ({@code tornado})
 * @param reason why it cannot be used here
 */
record MissingApi(String api, String reason) implements DeviceApi {

    /** TornadoVM's reason: no SDK named, or a JVM started without Spillway's TornadoVM module and flags. */
    static MissingApi tornado(String tornadoHome) {
        if (tornadoHome == null || tornadoHome.isBlank()) {
            return new MissingApi("tornado", "TornadoVM is not installed (set TORNADOVM_HOME)");
        }
        return new MissingApi("tornado", "this JVM runs without Spillway's TornadoVM module (TORNADOVM_HOME=" + tornadoHome
                + "; the spillway launcher adds it and TornadoVM's flags for --device tornado and devices)");
    }

    @Override
    public Listing list() {
        return Listing.none(api, reason);
    }

    @Override
    public Optional<String> noGpuReason() {
        return Optional.of(reason);
    }

    @Override
    public DeviceRuntime open(int index) {
        throw new IllegalStateException(api + ": " + reason);
    }
}
