package dev.spillway.tornado;

import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/** TornadoVM's devices, numbered across its backends (loaded only when TornadoVM's runtime is present). */
final class TornadoDevices {
    private TornadoDevices() {
    }

    static List<TornadoDevice> all() {
        List<TornadoDevice> out = new ArrayList<>();
        for (TornadoBackend b : TornadoExecutionPlan.getTornadoDeviceMap().getAllBackends()) {
            out.addAll(b.getAllDevices());
        }
        return out;
    }

    static DeviceApi.Listing list() {
        List<DeviceInfo> infos = new ArrayList<>();
        try {
            List<TornadoBackend> backends = TornadoExecutionPlan.getTornadoDeviceMap().getAllBackends();
            for (TornadoBackend b : backends) {
                for (TornadoDevice d : b.getAllDevices()) {
                    String name = d.getPhysicalDevice().getDeviceName().strip();
                    String vendor = "TornadoVM " + b.getBackendType().name().toLowerCase(java.util.Locale.ROOT) + ", "
                            + d.getPlatformName().strip();
                    infos.add(new DeviceInfo("tornado", infos.size(), name, vendor, d.getMaxGlobalMemory(), -1, kind(d)));
                }
            }
        } catch (RuntimeException | LinkageError e) {
            return DeviceApi.Listing.none("tornado", "TornadoVM found no device: " + oneLine(e));
        }
        if (infos.isEmpty()) {
            return DeviceApi.Listing.none("tornado", "TornadoVM found no device");
        }
        return DeviceApi.Listing.of("tornado", infos);
    }

    static TornadoDevice device(int index) {
        List<TornadoDevice> all = all();
        if (index < 0 || index >= all.size()) {
            throw new IllegalStateException("tornado: no device " + index + "; TornadoVM has " + all.size());
        }
        return all.get(index);
    }

    private static DeviceKind kind(TornadoDevice d) {
        return switch (d.getDeviceType()) {
            case CPU -> DeviceKind.CPU;
            case GPU -> DeviceKind.GPU;
            case ACCELERATOR, FPGA -> DeviceKind.ACCELERATOR;
            default -> DeviceKind.OTHER;
        };
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("\\s+", " ").strip();
    }
}
