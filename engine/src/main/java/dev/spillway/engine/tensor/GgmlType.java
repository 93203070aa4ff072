package dev.spillway.engine.tensor;

import java.util.Optional;

/**
 * The ggml tensor element types that can appear in a GGUF file, with their block geometry.
 *
 * <p>This table is the single source of truth for "how many bytes does a row of N elements take":
 * the GGUF reader uses it to validate tensor sizes, the CPU and device backends to walk rows, and
 * device backends to size their buffers. Ids and block sizes are those of ggml's
 * {@code enum ggml_type} and {@code ggml_type_traits} (facts of the format).
 *
 * <p>{@link #computable()} says whether Spillway can run matrix products on weights of that type;
 * the others are known so that {@code spillway info} can still describe such files.
 */
public enum GgmlType {
    //   id  elements/block  bytes/block  computable
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),     // f16 d; uint8 qs[16]
    Q4_1(3, 32, 20, true),     // f16 d; f16 m; uint8 qs[16]
    Q5_0(6, 32, 22, false),
    Q5_1(7, 32, 24, false),
    Q8_0(8, 32, 34, true),     // f16 d; int8 qs[32]
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, false),
    Q3_K(11, 256, 110, false),
    Q4_K(12, 256, 144, true),  // f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128]
    Q5_K(13, 256, 176, true),  // f16 d; f16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]
    Q6_K(14, 256, 210, true),  // uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, false);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockElements;
    private final int blockBytes;
    private final boolean computable;

    GgmlType(int id, int blockElements, int blockBytes, boolean computable) {
        this.id = id;
        this.blockElements = blockElements;
        this.blockBytes = blockBytes;
        this.computable = computable;
    }

    /** The ggml type id as stored in a GGUF tensor info. */
    public int id() {
        return id;
    }

    /** Elements per quantization block (1 for plain float and integer types). */
    public int blockElements() {
        return blockElements;
    }

    /** Bytes per quantization block. */
    public int blockBytes() {
        return blockBytes;
    }

    /** Whether Spillway's backends can compute with weights of this type. */
    public boolean computable() {
        return computable;
    }

    /** Whether values are stored in blocks with shared scales (every non-plain type). */
    public boolean quantized() {
        return blockElements > 1;
    }

    /**
     * Bytes taken by {@code elements} elements; {@code elements} must be a whole number of blocks.
     *
     * @throws IllegalArgumentException if it is not, or if the size overflows a long
     */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockElements != 0) {
            throw new IllegalArgumentException(
                    name() + " stores whole blocks of " + blockElements + " elements; " + elements + " is not a multiple");
        }
        return Math.multiplyExact(elements / blockElements, (long) blockBytes);
    }

    /** Bytes per element averaged over a block, for size estimates and reports. */
    public double bytesPerElement() {
        return (double) blockBytes / blockElements;
    }

    /** The types Spillway computes with (matrix products on weights), in table order. */
    public static java.util.Set<GgmlType> computableTypes() {
        java.util.EnumSet<GgmlType> set = java.util.EnumSet.noneOf(GgmlType.class);
        for (GgmlType t : values()) {
            if (t.computable) {
                set.add(t);
            }
        }
        return java.util.Collections.unmodifiableSet(set);
    }

    /** Looks a type up by its ggml id. */
    public static Optional<GgmlType> byId(long id) {
        if (id < 0 || id >= BY_ID.length) {
            return Optional.empty();
        }
        return Optional.ofNullable(BY_ID[(int) id]);
    }
}
