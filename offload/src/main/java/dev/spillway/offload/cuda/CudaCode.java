package dev.spillway.offload.cuda;

import dev.spillway.bindings.cuda.ComputeCapability;
import dev.spillway.offload.device.DeviceCode;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Picks the module image for a device from the CUDA device code: a cubin built for the device's
 * compute capability; else the newest cubin of the same major version and a lower minor (cubins run
 * on later minors of their major, e.g. sm_80 on 8.6); else the PTX, which the driver JIT-compiles for
 * any device at or above its target.
 */
public final class CudaCode {
    private CudaCode() {
    }

    /**
     * The chosen image and why, e.g. "cubin sm_86 (built for 8.6)".
     *
     * @param entry the manifest entry to load
     * @param ptx   whether it is PTX (loaded with a NUL terminator; JIT-compiled by the driver)
     */
    public record Choice(DeviceCode.Entry entry, boolean ptx, String description) {
    }

    /** The image for a device of capability {@code cc}, or empty when none can run there. */
    public static Optional<Choice> select(DeviceCode code, ComputeCapability cc) {
        Optional<Choice> cubin = code.entries("cubin").stream()
                .filter(e -> {
                    ComputeCapability built = ComputeCapability.ofSm(Integer.parseInt(e.target()));
                    return built.major() == cc.major() && built.minor() <= cc.minor();
                })
                .max(Comparator.comparingInt(e -> Integer.parseInt(e.target())))
                .map(e -> {
                    ComputeCapability built = ComputeCapability.ofSm(Integer.parseInt(e.target()));
                    String why = built.equals(cc) ? "built for " + cc : "built for " + built + ", runs on " + cc;
                    return new Choice(e, false, "cubin sm_" + e.target() + " (" + why + ")");
                });
        if (cubin.isPresent()) {
            return cubin;
        }
        return code.entries("ptx").stream()
                .filter(e -> Integer.parseInt(e.target()) <= cc.sm())
                .max(Comparator.comparingInt(e -> Integer.parseInt(e.target())))
                .map(e -> new Choice(e, true, "PTX compute_" + e.target() + " (JIT-compiled by the driver for " + cc + ")"));
    }

    /** What the code covers, for the error when nothing fits, e.g. "cubins for sm_75, sm_80; PTX for compute_75 and newer". */
    public static String coverage(DeviceCode code) {
        String cubins = code.entries("cubin").stream().map(e -> "sm_" + e.target()).collect(Collectors.joining(", "));
        String ptx = code.entries("ptx").stream().map(e -> "compute_" + e.target()).collect(Collectors.joining(", "));
        return "cubins for " + (cubins.isEmpty() ? "none" : cubins) + "; PTX " + (ptx.isEmpty() ? "none" : ptx + " and newer");
    }
}
