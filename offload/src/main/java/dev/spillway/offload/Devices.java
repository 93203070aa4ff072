package dev.spillway.offload;

import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import dev.spillway.offload.hip.HipDevices;
import dev.spillway.offload.opencl.OpenClDevices;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Device discovery over a list of {@link DeviceApi}s (in preference order: CUDA and HIP before
 * OpenCL), and the choice of the device for offloaded layers. Discovery is cheap where there is no
 * device: CUDA and HIP look for their kernel driver ({@link DeviceNodes}) before loading a library.
 * Nothing is cached or global: each call asks the APIs again, and the APIs are passed in.
 */
public final class Devices {
    private final List<DeviceApi> apis;

    /** Discovery over {@code apis}, which automatic choice tries in this order. */
    public Devices(List<DeviceApi> apis) {
        this.apis = List.copyOf(apis);
    }

    /**
     * CUDA, HIP and OpenCL, in that order, then the APIs of optional modules on the class path
     * ({@link java.util.ServiceLoader} providers of {@link DeviceApi}: the {@code tornado} module's);
     * TornadoVM without its module is listed with the reason ({@link MissingApi}).
     */
    public static Devices standard() {
        List<DeviceApi> apis = new ArrayList<>(List.of(new CudaDevices(), new HipDevices(), new OpenClDevices()));
        for (DeviceApi api : java.util.ServiceLoader.load(DeviceApi.class, Devices.class.getClassLoader())) {
            apis.add(api);
        }
        if (apis.stream().noneMatch(a -> a.api().equals("tornado"))) {
            apis.add(MissingApi.tornado(System.getenv("TORNADOVM_HOME")));
        }
        return new Devices(apis);
    }

    public List<DeviceApi> apis() {
        return apis;
    }

    /**
     * Everything discovery sees: each API's devices or reason, and the CPU.
     *
     * @param listings one per API, in preference order
     * @param cpu      the host
     */
    public record Report(List<DeviceApi.Listing> listings, CpuInfo cpu) {
        public Report {
            listings = List.copyOf(listings);
        }

        /** Every device of every API, in preference order. */
        public List<DeviceInfo> devices() {
            return listings.stream().flatMap(l -> l.devices().stream()).toList();
        }
    }

    /**
     * The host CPU.
     *
     * @param cores          processors available to the JVM
     * @param totalRamBytes  physical memory
     * @param freeRamBytes   physical memory free now
     */
    public record CpuInfo(int cores, long totalRamBytes, long freeRamBytes) {
        public static CpuInfo current() {
            int cores = Runtime.getRuntime().availableProcessors();
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return new CpuInfo(cores, os.getTotalMemorySize(), os.getFreeMemorySize());
            }
            return new CpuInfo(cores, -1, -1);
        }
    }

    /** Lists every API's devices (or reason) and the CPU. */
    public Report discover() {
        List<DeviceApi.Listing> listings = new ArrayList<>();
        for (DeviceApi api : apis) {
            listings.add(api.list());
        }
        return new Report(listings, CpuInfo.current());
    }

    /**
     * A chosen device and the API that opens it.
     *
     * @param api    the device's API
     * @param device the device
     */
    public record Choice(DeviceApi api, DeviceInfo device) {
    }

    /**
     * The device {@code request} names, asking only the APIs needed: a named API only that API; an
     * automatic request each API in order until one has a device that is not a CPU.
     *
     * <p>Automatic choice never takes a {@link DeviceKind#CPU} device (PoCL, an OpenCL driver on the
     * host's cores): the CPU backend is faster on the same cores. Such a device is used only when
     * named ({@code --device opencl} or {@code opencl:N}); a named API without an index prefers its
     * other devices and takes a CPU device only where it has nothing else.
     *
     * @return the device, or empty for an automatic request when no API has one (then
     *         {@code reasons} gets one line per API)
     * @throws DeviceUnavailableException when the named API has no (such) device, naming why
     */
    public Optional<Choice> choose(DeviceRequest request, List<String> reasons) {
        Objects.requireNonNull(request, "request");
        if (request.automatic()) {
            for (DeviceApi api : apis) {
                Optional<String> noGpu = api.noGpuReason();
                if (noGpu.isPresent()) {
                    reasons.add(api.api() + ": " + noGpu.get());
                    continue;
                }
                DeviceApi.Listing l = api.list();
                if (l.devices().isEmpty()) {
                    reasons.add(api.api() + ": " + l.reason());
                    continue;
                }
                List<DeviceInfo> offload = notCpu(l.devices());
                if (!offload.isEmpty()) {
                    return Optional.of(new Choice(api, best(offload)));
                }
                reasons.add(api.api() + ": only CPU devices (" + String.join(", ", l.devices().stream().map(DeviceInfo::name).distinct().toList())
                        + "); name one with --device " + api.api() + " to use it");
            }
            return Optional.empty();
        }
        DeviceApi api = apis.stream().filter(a -> a.api().equals(request.api())).findFirst()
                .orElseThrow(() -> new DeviceUnavailableException(request.toString(), "this build has no " + request.api() + " backend"
                        + (request.api().equals("tornado") ? " (build with a TornadoVM SDK: set TORNADOVM_HOME; see the README)" : "")));
        DeviceApi.Listing l = api.list();
        if (l.devices().isEmpty()) {
            throw new DeviceUnavailableException(request.toString(), l.reason());
        }
        if (request.index() < 0) {
            List<DeviceInfo> offload = notCpu(l.devices());
            return Optional.of(new Choice(api, best(offload.isEmpty() ? l.devices() : offload)));
        }
        if (request.index() >= l.devices().size()) {
            throw new DeviceUnavailableException(request.toString(), "no such device; " + request.api() + " has "
                    + String.join(", ", l.devices().stream().map(d -> d.id() + " (" + d.name() + ")").toList()));
        }
        return Optional.of(new Choice(api, l.devices().get(request.index())));
    }

    /** The devices that are not the host's CPU cores. */
    private static List<DeviceInfo> notCpu(List<DeviceInfo> devices) {
        return devices.stream().filter(d -> d.kind() != DeviceKind.CPU).toList();
    }

    /** The device with the most memory; the lowest index among equals. */
    static DeviceInfo best(List<DeviceInfo> devices) {
        return devices.stream().max(Comparator.comparingLong(DeviceInfo::totalBytes)
                .thenComparing(Comparator.comparingInt(DeviceInfo::index).reversed())).orElseThrow();
    }
}
