package dev.spillway.offload.metrics;

/**
 * One reading of a memory probe.
 *
 * @param usedBytes          memory in use (a device's used VRAM, the process's resident set, a backend's counter)
 * @param totalBytes         what there is (the device's VRAM; 0 where the source has no total)
 * @param utilizationPercent GPU utilization, NaN where the source cannot read it
 * @param powerWatts         board power draw, NaN where the source cannot read it
 */
public record Reading(long usedBytes, long totalBytes, double utilizationPercent, double powerWatts) {
    public Reading {
        if (usedBytes < 0 || totalBytes < 0) {
            throw new IllegalArgumentException("used " + usedBytes + " of total " + totalBytes + " bytes");
        }
    }

    /** A memory-only reading (utilization and power unknown). */
    public static Reading memory(long usedBytes, long totalBytes) {
        return new Reading(usedBytes, totalBytes, Double.NaN, Double.NaN);
    }

    /** Each field's larger value (NaN only where both are NaN): the running peak of a sampler. */
    Reading max(Reading other) {
        return new Reading(Math.max(usedBytes, other.usedBytes), Math.max(totalBytes, other.totalBytes),
                maxKnown(utilizationPercent, other.utilizationPercent), maxKnown(powerWatts, other.powerWatts));
    }

    private static double maxKnown(double a, double b) {
        return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.max(a, b);
    }
}
