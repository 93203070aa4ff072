package dev.spillway.offload;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The GPU kernel drivers' files, looked for before a vendor's runtime library is loaded: where no
 * driver is installed there can be no device, so discovery says why and loads nothing (loading a
 * runtime costs time, and Debian's {@code libamdhip64.so.5} makes the JVM print a stack-guard
 * warning). The paths are resolved under {@code root}: {@code /} on a real system, a folder in tests.
 *
 * <ul>
 *   <li>NVIDIA: {@code /dev/nvidiactl}, a {@code /dev/nvidiaN} or {@code /proc/driver/nvidia};</li>
 *   <li>AMD (ROCm): {@code /dev/kfd} and a render node {@code /dev/dri/renderDN};</li>
 *   <li>both: WSL's paravirtualised GPU {@code /dev/dxg}, behind which either vendor's runtime may
 *       find a device.</li>
 * </ul>
 *
 * <p>A file found here does not prove a device: the runtime then decides, and says why not.
 *
 * @param root the root the driver paths are resolved against
 */
public record DeviceNodes(Path root) {

    public DeviceNodes {
        Objects.requireNonNull(root, "root");
    }

    /** The real file system's. */
    public static DeviceNodes system() {
        return new DeviceNodes(Path.of("/"));
    }

    /** Empty when an NVIDIA driver (or WSL's GPU) is present; else the one-line reason there is none. */
    public Optional<String> nvidiaMissing() {
        if (exists("dev/nvidiactl") || exists("proc/driver/nvidia") || anyIn("dev", "nvidia[0-9]*") || exists("dev/dxg")) {
            return Optional.empty();
        }
        return Optional.of("no NVIDIA GPU driver: " + path("dev/nvidiactl") + ", " + path("dev/nvidia0") + " and "
                + path("proc/driver/nvidia") + " not found");
    }

    /** Empty when the AMD GPU driver's nodes (or WSL's GPU) are present; else the one-line reason there are none. */
    public Optional<String> amdMissing() {
        if (exists("dev/dxg")) {
            return Optional.empty();
        }
        if (!exists("dev/kfd")) {
            return Optional.of("no AMD GPU driver: " + path("dev/kfd") + " not found");
        }
        if (!anyIn("dev/dri", "renderD[0-9]*")) {
            return Optional.of("no AMD GPU render node: " + path("dev/kfd") + " exists but no " + path("dev/dri/renderD*"));
        }
        return Optional.empty();
    }

    private Path path(String relative) {
        return root.resolve(relative);
    }

    private boolean exists(String relative) {
        return Files.exists(path(relative));
    }

    /** Whether folder {@code relative} has an entry matching {@code glob}. */
    private boolean anyIn(String relative, String glob) {
        Path dir = path(relative);
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, glob)) {
            return entries.iterator().hasNext();
        } catch (IOException e) {
            return true;    // cannot tell: let the runtime decide
        }
    }
}
