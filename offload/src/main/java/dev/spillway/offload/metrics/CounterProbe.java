package dev.spillway.offload.metrics;

import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * One of Spillway's own counters read as a probe, e.g. a device backend's
 * {@code allocatedBytes()}: for OpenCL (PoCL included), whose API cannot report a device's memory
 * use, it is the only device-side figure.
 */
public final class CounterProbe implements MemoryProbe {
    private final String source;
    private final LongSupplier usedBytes;
    private final long totalBytes;

    public CounterProbe(String source, LongSupplier usedBytes, long totalBytes) {
        this.source = source;
        this.usedBytes = usedBytes;
        this.totalBytes = totalBytes;
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public Optional<Reading> read() {
        return Optional.of(Reading.memory(usedBytes.getAsLong(), totalBytes));
    }
}
