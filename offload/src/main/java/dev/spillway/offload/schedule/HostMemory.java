package dev.spillway.offload.schedule;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** The host memory the OS reports available, the default host budget ({@code --max-memory}). */
public final class HostMemory {
    private HostMemory() {
    }

    /**
     * {@code MemAvailable} of {@code /proc/meminfo} (what can be allocated without swapping), else
     * the free physical memory the JVM reports.
     */
    public static long availableBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                // "MemAvailable:   23456789 kB"
                if (line.startsWith("MemAvailable:")) {
                    String[] parts = line.trim().split("\\s+");
                    return Long.parseLong(parts[1]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or an unreadable /proc: fall through
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getFreeMemorySize();
        }
        return Runtime.getRuntime().maxMemory();
    }
}
