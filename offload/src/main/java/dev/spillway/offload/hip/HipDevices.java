package dev.spillway.offload.hip;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.util.ArrayList;
import java.util.List;

/** HIP (ROCm) devices for discovery, and {@link HipRuntime}s on them. */
public final class HipDevices implements DeviceApi {

    @Override
    public String api() {
        return Hip.API;
    }

    /**
     * Loads the HIP runtime and lists its devices with total and free memory. Where the runtime is
     * installed but sees no GPU, the reason is HIP's, e.g. {@code hipGetDeviceCount: hipErrorNoDevice}.
     */
    @Override
    public Listing list() {
        return switch (Hip.load()) {
            case Availability.Unavailable<Hip> u -> Listing.none(api(), u.reason());
            case Availability.Available<Hip> a -> {
                Hip hip = a.api();
                try {
                    int n = hip.deviceCount();
                    if (n == 0) {
                        yield Listing.none(api(), "hipGetDeviceCount: the runtime sees no HIP device");
                    }
                    List<DeviceInfo> devices = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        hip.setDevice(i);
                        DeviceMemory m = hip.memoryInfo();
                        devices.add(new DeviceInfo(api(), i, hip.deviceName(i), "AMD", m.totalBytes(), m.freeBytes()));
                    }
                    yield Listing.of(api(), devices);
                } catch (NativeException e) {
                    yield Listing.none(api(), e.getMessage());
                }
            }
        };
    }

    @Override
    public DeviceRuntime open(int index) {
        Hip hip = Hip.load().orElseThrow(IllegalStateException::new);
        DeviceCode code = DeviceCode.load(DeviceCode.HIP).orElseThrow(() -> new IllegalStateException(
                "this build has no HIP device code (" + DeviceCode.HIP + "manifest.txt): run native/build-device-code.sh where hipcc is installed"));
        return HipRuntime.open(hip, index, code);
    }
}
