package dev.spillway.offload.cuda;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.cuda.Cuda;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.DeviceNodes;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * CUDA devices for discovery, and {@link CudaRuntime}s on them. Where the NVIDIA driver's nodes are
 * absent ({@link DeviceNodes#nvidiaMissing()}), the driver library is not loaded.
 */
public final class CudaDevices implements DeviceApi {
    private final DeviceNodes nodes;
    private final Supplier<Availability<Cuda>> loader;

    /** Over the real file system's driver nodes and {@link Cuda#load()}. */
    public CudaDevices() {
        this(DeviceNodes.system(), Cuda::load);
    }

    /**
     * @param nodes  where to look for the NVIDIA driver before loading anything
     * @param loader loads the driver library (called only where {@code nodes} has the driver)
     */
    public CudaDevices(DeviceNodes nodes, Supplier<Availability<Cuda>> loader) {
        this.nodes = Objects.requireNonNull(nodes, "nodes");
        this.loader = Objects.requireNonNull(loader, "loader");
    }

    @Override
    public String api() {
        return Cuda.API;
    }

    /**
     * Without the NVIDIA driver's nodes, says so and loads nothing. Else loads the driver, initializes it and lists its devices with total and free memory (free through
     * the primary context, retained only for the reading). Without the driver, or without devices,
     * the reason is the loader's or the driver's (e.g. {@code cuInit: CUDA_ERROR_NO_DEVICE (…)}).
     */
    @Override
    public Listing list() {
        Optional<String> noDriver = nodes.nvidiaMissing();
        if (noDriver.isPresent()) {
            return Listing.none(api(), noDriver.get());
        }
        return switch (loader.get()) {
            case Availability.Unavailable<Cuda> u -> Listing.none(api(), u.reason());
            case Availability.Available<Cuda> a -> {
                Cuda cuda = a.api();
                try {
                    cuda.init();
                    int n = cuda.deviceCount();
                    if (n == 0) {
                        yield Listing.none(api(), "cuDeviceGetCount: the driver sees no CUDA device");
                    }
                    List<DeviceInfo> devices = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        int device = cuda.device(i);
                        long free = freeMemory(cuda, device).map(DeviceMemory::freeBytes).orElse(-1L);
                        devices.add(new DeviceInfo(api(), i, cuda.deviceName(device), "NVIDIA", cuda.totalMemory(device), free));
                    }
                    yield Listing.of(api(), devices);
                } catch (NativeException e) {
                    yield Listing.none(api(), e.getMessage());
                }
            }
        };
    }

    /** cuMemGetInfo needs a context: retains the primary one for the reading only. */
    private static Optional<DeviceMemory> freeMemory(Cuda cuda, int device) {
        MemorySegment ctx;
        try {
            ctx = cuda.retainPrimaryContext(device);
        } catch (NativeException e) {
            return Optional.empty();   // e.g. a device in exclusive-process mode held by another process
        }
        try {
            cuda.setCurrent(ctx);
            return Optional.of(cuda.memoryInfo());
        } catch (NativeException e) {
            return Optional.empty();
        } finally {
            cuda.setCurrent(MemorySegment.NULL);
            cuda.releasePrimaryContext(device);
        }
    }

    @Override
    public DeviceRuntime open(int index) {
        nodes.nvidiaMissing().ifPresent(reason -> {
            throw new IllegalStateException(reason);
        });
        Cuda cuda = loader.get().orElseThrow(IllegalStateException::new);
        DeviceCode code = DeviceCode.load(DeviceCode.CUDA).orElseThrow(() -> new IllegalStateException(
                "this build has no CUDA device code (" + DeviceCode.CUDA + "manifest.txt): run native/build-device-code.sh"));
        return CudaRuntime.open(cuda, index, code);
    }
}
