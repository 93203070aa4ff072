package dev.spillway.bindings.cuda;

/** A CUDA device's compute capability, e.g. 8.6; {@link #sm()} is the matching {@code sm_86} number. */
public record ComputeCapability(int major, int minor) implements Comparable<ComputeCapability> {
    public ComputeCapability {
        if (major < 1 || minor < 0 || minor > 9) {
            throw new IllegalArgumentException("compute capability " + major + "." + minor);
        }
    }

    /** {@code major * 10 + minor}: 86 for 8.6. */
    public int sm() {
        return major * 10 + minor;
    }

    /** Parses {@code sm_86} / {@code compute_86} style numbers (86) into 8.6. */
    public static ComputeCapability ofSm(int sm) {
        return new ComputeCapability(sm / 10, sm % 10);
    }

    @Override
    public int compareTo(ComputeCapability o) {
        return Integer.compare(sm(), o.sm());
    }

    @Override
    public String toString() {
        return major + "." + minor;
    }
}
