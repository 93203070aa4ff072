package dev.spillway.offload.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * This process's resident set, {@code VmRSS} in {@code /proc/self/status} (Linux): what the CPU
 * backend, PoCL's buffers, the JVM's heap and the model file's touched pages cost in RAM. Total is
 * the machine's RAM ({@code MemTotal} of {@code /proc/meminfo}), 0 where unknown.
 */
public final class ProcessMemory implements MemoryProbe {
    public static final String SOURCE = "process rss";

    private final Path status;
    private final long totalBytes;
    private String reason;

    public ProcessMemory() {
        this(Path.of("/proc/self/status"), Path.of("/proc/meminfo"));
    }

    ProcessMemory(Path status, Path meminfo) {
        this.status = status;
        long total = 0;
        try {
            total = kilobytes(Files.readString(meminfo), "MemTotal").orElse(0) ;
        } catch (IOException | RuntimeException e) {
            // no total: 0
        }
        this.totalBytes = total;
    }

    @Override
    public String source() {
        return SOURCE;
    }

    @Override
    public Optional<Reading> read() {
        try {
            OptionalLong rss = kilobytes(Files.readString(status), "VmRSS");
            reason = rss.isPresent() ? null : "no VmRSS line in " + status;
            return rss.isPresent() ? Optional.of(Reading.memory(rss.getAsLong(), totalBytes)) : Optional.empty();
        } catch (IOException e) {
            reason = "cannot read " + status + ": " + e.getMessage();
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> reason() {
        return Optional.ofNullable(reason);
    }

    /** The bytes of a {@code Key:   1234 kB} line of a /proc file. */
    static OptionalLong kilobytes(String text, String key) {
        for (String line : text.split("\n")) {
            if (line.startsWith(key + ":")) {
                String[] f = line.substring(key.length() + 1).strip().split("\\s+");
                try {
                    long v = Long.parseLong(f[0]);
                    return OptionalLong.of(f.length > 1 && f[1].equalsIgnoreCase("kB") ? v * 1024 : v);
                } catch (NumberFormatException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }
}
