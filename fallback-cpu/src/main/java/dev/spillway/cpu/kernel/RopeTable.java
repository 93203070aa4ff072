package dev.spillway.cpu.kernel;

import dev.spillway.engine.backend.RopeSpec;

/**
 * A {@link RopeSpec}'s inverse frequencies, computed once in double precision, and the per-position
 * cos/sin table that {@link VectorOps#rope} reads. Angles are {@code pos * invFreq} in double, so
 * positions in the hundreds of thousands keep their accuracy.
 */
public final class RopeTable {
    private final RopeSpec spec;
    private final double[] inverseFrequency; // (rotatedDims / 2)
    private final boolean interleaved;

    public RopeTable(RopeSpec spec) {
        this.spec = spec;
        this.interleaved = spec.style() == RopeSpec.Style.INTERLEAVED;
        this.inverseFrequency = new double[spec.rotatedDims() / 2];
        for (int i = 0; i < inverseFrequency.length; i++) {
            inverseFrequency[i] = spec.inverseFrequency(i);
        }
    }

    public RopeSpec spec() {
        return spec;
    }

    public int rotatedDims() {
        return spec.rotatedDims();
    }

    public boolean interleaved() {
        return interleaved;
    }

    /** Floats of the table {@link #fill} writes. */
    public int tableFloats() {
        return 2 * spec.rotatedDims();
    }

    /**
     * Writes the table for position {@code pos} into {@code cs[0 .. 2*rotatedDims)}: for NEOX,
     * {@code cos(theta_i)} then {@code sin(theta_i)} for each pair i; for INTERLEAVED, per element j,
     * {@code cos(theta_{j/2})} then {@code -sin} (even j) / {@code +sin} (odd j).
     */
    public void fill(int pos, float[] cs) {
        int rot = spec.rotatedDims();
        int half = rot / 2;
        for (int i = 0; i < half; i++) {
            double theta = pos * inverseFrequency[i];
            float c = (float) Math.cos(theta);
            float s = (float) Math.sin(theta);
            if (interleaved) {
                cs[2 * i] = c;
                cs[2 * i + 1] = c;
                cs[rot + 2 * i] = -s;
                cs[rot + 2 * i + 1] = s;
            } else {
                cs[i] = c;
                cs[half + i] = s;
            }
        }
    }
}
