package dev.spillway.tornado;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import java.util.Optional;

/** Opening TornadoVM backends in tests: skipped, with the reason, where TornadoVM or a device is missing. */
final class TornadoTesting {
    private TornadoTesting() {
    }

    /** TornadoVM's first device, as discovery lists it (skips the test where there is none). */
    static DeviceInfo firstDevice() {
        Optional<String> missing = TornadoRuntimeCheck.missing();
        assumeTrue(missing.isEmpty(), () -> "TornadoVM: " + missing.orElse(""));
        DeviceApi.Listing l = new TornadoApi().list();
        assumeTrue(!l.devices().isEmpty(), () -> "TornadoVM: " + l.reason());
        return l.devices().get(0);
    }

    static TornadoBackend backend(DeviceBackend.Options options) {
        return (TornadoBackend) new TornadoApi().openBackend(firstDevice(), options);
    }

    static TornadoBackend backend() {
        return backend(DeviceBackend.Options.defaults());
    }
}
