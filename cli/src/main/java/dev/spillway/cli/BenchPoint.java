package dev.spillway.cli;

import java.util.Objects;

/**
 * One benchmark result as {@link BenchCharts} plots it: a test's speed and the memory of its case at
 * one number of offloaded layers.
 *
 * @param model           the model's name, e.g. a file name (charts are grouped by model and type)
 * @param type            its weight type, e.g. {@code q4_0}; may be empty
 * @param deviceLayers    layers on devices ({@code -ngl} resolved to a count), at least 0
 * @param test            {@code pp} (prompt processing) or {@code tg} (generation)
 * @param tokensPerSecond the test's mean speed, finite and not negative
 * @param estimatedBytes  the planner's estimate of device memory, or -1 when unknown
 * @param allocatedBytes  what the backends allocated, or -1 when unknown
 * @param measuredBytes   what the external reading (NVML, SMI tool, resident set) reported at peak, or -1
 */
record BenchPoint(String model, String type, int deviceLayers, String test, double tokensPerSecond,
                  long estimatedBytes, long allocatedBytes, long measuredBytes) {

    /** Means "not known"; such a value is left out of the memory chart. */
    static final long UNKNOWN = -1;

    BenchPoint {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(test, "test");
        if (model.isBlank()) {
            throw new IllegalArgumentException("model is blank");
        }
        if (!test.equals("pp") && !test.equals("tg")) {
            throw new IllegalArgumentException("test must be pp or tg: " + test);
        }
        if (deviceLayers < 0) {
            throw new IllegalArgumentException("deviceLayers < 0: " + deviceLayers);
        }
        if (!Double.isFinite(tokensPerSecond) || tokensPerSecond < 0) {
            throw new IllegalArgumentException("tokensPerSecond must be finite and >= 0: " + tokensPerSecond);
        }
        checkBytes("estimatedBytes", estimatedBytes);
        checkBytes("allocatedBytes", allocatedBytes);
        checkBytes("measuredBytes", measuredBytes);
    }

    private static void checkBytes(String name, long bytes) {
        if (bytes < UNKNOWN) {
            throw new IllegalArgumentException(name + " must be >= 0, or -1 for unknown: " + bytes);
        }
    }
}
