package dev.spillway.offload.hip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.bindings.hip.HipException;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.RuntimeRoundTrip;
import org.junit.jupiter.api.Test;

/**
 * The HIP runtime: where the library is installed without an AMD GPU (the build machines), opening
 * fails at the first call with HIP's status and leaves nothing behind; with a GPU, the committed
 * bundle loads and memory round-trips.
 */
class HipRuntimeTest {

    @Test
    void opensWhereThereIsADeviceAndFailsCleanlyWhereThereIsNone() {
        Availability<Hip> loaded = Hip.load();
        assumeTrue(loaded instanceof Availability.Available<Hip>, () -> "no HIP runtime: " + loaded);
        Hip hip = loaded.orElseThrow(IllegalStateException::new);
        DeviceCode code = DeviceCode.load(DeviceCode.HIP).orElseThrow();
        DeviceApi.Listing l = new HipDevices().list();
        if (l.devices().isEmpty()) {
            HipException e = assertThrows(HipException.class, () -> HipRuntime.open(hip, 0, code));
            assertTrue(e.status().startsWith("hipError"), e.status());
            assertTrue(e.getMessage().startsWith("hipSetDevice(0): hipError"), e.getMessage());
        } else {
            try (DeviceRuntime rt = HipRuntime.open(hip, 0, code)) {
                assertEquals(Hip.API, rt.api());
                RuntimeRoundTrip.check(rt);
            }
        }
    }
}
