package dev.spillway.engine.backend;

/**
 * Rotary position embedding parameters, read from GGUF metadata.
 *
 * <p>For pair {@code i} (0 &le; i &lt; rotatedDims/2) of a head, at position {@code p}:
 * {@code theta = p * freqScale * freqBase^(-2i/rotatedDims) / factor[i]}, and the pair is rotated by
 * {@code theta}. {@link Style#INTERLEAVED} pairs elements {@code (2i, 2i+1)} (ggml's "normal" rope, used
 * by the llama architecture); {@link Style#NEOX} pairs {@code (i, i + rotatedDims/2)}.
 *
 * @param rotatedDims  leading dimensions of each head that are rotated ({@code rope.dimension_count}, usually head_dim)
 * @param freqBase     {@code rope.freq_base} (10000 by default)
 * @param freqScale    1 / {@code rope.scaling.factor} for linear scaling, else 1
 * @param freqFactors  per-pair divisors ({@code rope_freqs.weight}, Llama 3.1 style), or null
 */
public record RopeSpec(Style style, int rotatedDims, float freqBase, float freqScale, float[] freqFactors) {
    public enum Style { INTERLEAVED, NEOX }

    public RopeSpec {
        if (rotatedDims <= 0 || rotatedDims % 2 != 0) {
            throw new IllegalArgumentException("rope dimension count must be positive and even, got " + rotatedDims);
        }
        if (!(freqBase > 0) || !(freqScale > 0)) {
            throw new IllegalArgumentException("rope freq_base and scale must be positive, got " + freqBase + ", " + freqScale);
        }
        if (freqFactors != null && freqFactors.length != rotatedDims / 2) {
            throw new IllegalArgumentException("rope_freqs has " + freqFactors.length + " factors, expected " + rotatedDims / 2);
        }
        freqFactors = freqFactors == null ? null : freqFactors.clone();
    }

    /** A copy of the per-pair divisors, or null. */
    @Override
    public float[] freqFactors() {
        return freqFactors == null ? null : freqFactors.clone();
    }

    /** Compares the factors by content, so backends can cache tables per spec. */
    @Override
    public boolean equals(Object o) {
        return o instanceof RopeSpec r && style == r.style && rotatedDims == r.rotatedDims
                && Float.compare(freqBase, r.freqBase) == 0 && Float.compare(freqScale, r.freqScale) == 0
                && java.util.Arrays.equals(freqFactors, r.freqFactors);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(style, rotatedDims, freqBase, freqScale) * 31 + java.util.Arrays.hashCode(freqFactors);
    }

    @Override
    public String toString() {
        return "RopeSpec[" + style + ", dims " + rotatedDims + ", base " + freqBase + ", scale " + freqScale
                + (freqFactors == null ? "" : ", " + freqFactors.length + " freq factors") + "]";
    }

    /** The angle per unit position of pair {@code i}. Backends precompute these once. */
    public double inverseFrequency(int pair) {
        double f = freqScale * Math.pow(freqBase, -2.0 * pair / rotatedDims);
        return freqFactors == null ? f : f / freqFactors[pair];   // the field, not the copying accessor
    }
}
