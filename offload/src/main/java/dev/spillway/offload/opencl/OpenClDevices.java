package dev.spillway.offload.opencl;

import dev.spillway.bindings.NativeException;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** OpenCL devices of every platform for discovery, and {@link OpenClRuntime}s on them. */
public final class OpenClDevices implements DeviceApi {
    /** Where the Khronos ICD loader looks for drivers, unless {@code OCL_ICD_VENDORS} says otherwise. */
    static final Path VENDORS = Path.of("/etc/OpenCL/vendors");

    private final Path vendors;
    private final boolean extraDrivers;

    /** Drivers registered where the ICD loader looks for them ({@code OCL_ICD_VENDORS}, else /etc/OpenCL/vendors). */
    public OpenClDevices() {
        this(Optional.ofNullable(System.getenv("OCL_ICD_VENDORS")).filter(v -> !v.isBlank()).map(Path::of).orElse(VENDORS),
                System.getenv("OCL_ICD_FILENAMES") != null && !System.getenv("OCL_ICD_FILENAMES").isBlank());
    }

    /** Drivers registered in {@code vendors}: a folder of {@code .icd} files, or one such file. */
    public OpenClDevices(Path vendors) {
        this(vendors, false);
    }

    /**
     * @param extraDrivers whether drivers are also named elsewhere ({@code OCL_ICD_FILENAMES}): then
     *                     the registered ones do not tell the whole story, and the loader decides
     */
    OpenClDevices(Path vendors, boolean extraDrivers) {
        this.vendors = vendors;
        this.extraDrivers = extraDrivers;
    }

    /**
     * Present when every registered driver is PoCL (OpenCL on the CPU), which automatic choice never
     * uses: then the OpenCL library, and PoCL with it (LLVM, about 55 MB), is not loaded at all.
     * Each {@code .icd} file names one driver library.
     */
    @Override
    public Optional<String> noGpuReason() {
        if (extraDrivers) {
            return Optional.empty();
        }
        List<String> drivers = new ArrayList<>();
        try {
            List<Path> files;
            if (Files.isDirectory(vendors)) {
                try (Stream<Path> s = Files.list(vendors)) {
                    files = s.filter(f -> f.getFileName().toString().endsWith(".icd")).sorted().toList();
                }
            } else {
                files = List.of(vendors);
            }
            for (Path f : files) {
                drivers.add(Files.readString(f).strip());
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();   // cannot tell: let the loader decide
        }
        if (drivers.isEmpty() || !drivers.stream().allMatch(d -> d.contains("pocl"))) {
            return Optional.empty();
        }
        return Optional.of("only a CPU driver is installed (" + String.join(", ", drivers) + " in " + vendors
                + "); name it with --device opencl to use it");
    }

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
