package dev.spillway.offload.hip;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.DeviceNodes;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * HIP (ROCm) devices for discovery, and {@link HipRuntime}s on them. Where the AMD GPU driver's nodes
 * are absent ({@link DeviceNodes#amdMissing()}), the HIP runtime is not loaded.
 */
public final class HipDevices implements DeviceApi {
    private final DeviceNodes nodes;
    private final Supplier<Availability<Hip>> loader;

    /** Over the real file system's driver nodes and {@link Hip#load()}. */
    public HipDevices() {
        this(DeviceNodes.system(), Hip::load);
    }

    /**
     * @param nodes  where to look for the AMD GPU driver before loading anything
     * @param loader loads the HIP runtime (called only where {@code nodes} has the driver)
     */
    public HipDevices(DeviceNodes nodes, Supplier<Availability<Hip>> loader) {
        this.nodes = Objects.requireNonNull(nodes, "nodes");
        this.loader = Objects.requireNonNull(loader, "loader");
    }

    @Override
    public String api() {
        return Hip.API;
    }

    /**
     * Without the AMD GPU driver's nodes, says so (e.g. {@code no AMD GPU driver: /dev/kfd not found})
     * and loads nothing. Else loads the HIP runtime and lists its devices with total and free memory. Where the runtime is
     * installed but sees no GPU, the reason is HIP's, e.g. {@code hipGetDeviceCount: hipErrorNoDevice}.
     */
    @Override
    public Listing list() {
        Optional<String> noDriver = nodes.amdMissing();
        if (noDriver.isPresent()) {
            return Listing.none(api(), noDriver.get());
        }
        return switch (loader.get()) {
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
        nodes.amdMissing().ifPresent(reason -> {
            throw new IllegalStateException(reason);
        });
        Hip hip = loader.get().orElseThrow(IllegalStateException::new);
        DeviceCode code = DeviceCode.load(DeviceCode.HIP).orElseThrow(() -> new IllegalStateException(
                "this build has no HIP device code (" + DeviceCode.HIP + "manifest.txt): run native/build-device-code.sh where hipcc is installed"));
        return HipRuntime.open(hip, index, code);
    }
}
