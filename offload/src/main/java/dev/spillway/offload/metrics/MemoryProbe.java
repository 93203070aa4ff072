package dev.spillway.offload.metrics;

import java.util.Optional;

/**
 * A source of memory readings: a vendor library (NVML, ROCm SMI), a vendor tool ({@code nvidia-smi},
 * {@code rocm-smi}), the process's resident set, or one of Spillway's own counters. A probe may hold
 * a native session or temporary files; {@link #close} releases them.
 *
 * <p>Reads come from one thread at a time (a {@link MemorySampler} hands its probe from the caller to
 * its thread and back with a start and a join).
 */
public interface MemoryProbe extends AutoCloseable {
    /** What is read, e.g. {@code nvml cuda:0 (0000:01:00.0)}, {@code nvidia-smi -i 0}, {@code process rss}. */
    String source();

    /** A reading now, or empty when the source gave none (then {@link #reason()} says why). */
    Optional<Reading> read();

    /** Why the last {@link #read()} gave nothing; empty after a reading. */
    default Optional<String> reason() {
        return Optional.empty();
    }

    @Override
    default void close() {
    }
}
