package dev.spillway.offload.opencl;

import dev.spillway.bindings.NativeException;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.util.List;
import java.util.Optional;

/** OpenCL devices of every platform for discovery, and {@link OpenClRuntime}s on them. */
public final class OpenClDevices implements DeviceApi {

    @Override
    public String api() {
        return "opencl";
    }

    /** The devices, or why there are none: the ICD loader is missing, or no platform (ICD) is registered. */
    @Override
    public Listing list() {
        Optional<String> missing = OpenClBackend.unavailableReason();
        if (missing.isPresent()) {
            return Listing.none(api(), missing.get());
        }
        try {
            List<DeviceInfo> devices = OpenClBackend.devices();
            return devices.isEmpty()
                    ? Listing.none(api(), "the OpenCL loader found no platform with a device (no ICD in /etc/OpenCL/vendors)")
                    : Listing.of(api(), devices);
        } catch (NativeException e) {
            return Listing.none(api(), e.getMessage());
        }
    }

    @Override
    public DeviceRuntime open(int index) {
        return OpenClRuntime.open(index);
    }
}
