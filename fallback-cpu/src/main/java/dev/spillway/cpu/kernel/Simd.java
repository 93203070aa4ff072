package dev.spillway.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector species and conversions shared by the kernels.
 *
 * <p>{@link #F} is the platform's preferred float species, kept between 256 and 512 bits: the
 * kernels need {@code L = F.length()} to divide 16 (a Q6_K scale group) and a byte species with
 * {@code L} lanes for byte-to-float conversion, which needs at least 64 bits. (A 128-bit-only machine
 * gets 256-bit vectors, correct but not native.) {@link #B}, {@link #S} and {@link #I} are the byte,
 * short and int species with the same lane count, so each conversion to floats is lane-for-lane.
 */
public final class Simd {
    private Simd() {
    }

    public static final VectorSpecies<Float> F = pickFloatSpecies();
    /** Float lanes per vector: 8 on AVX2, 16 on AVX-512. */
    public static final int L = F.length();
    /** {@code L} bytes, e.g. 128 bits for 16 float lanes. */
    public static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(8 * L));
    /** {@code L} shorts. */
    public static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(16 * L));
    /** {@code L} ints, the same shape as {@link #F}. */
    public static final VectorSpecies<Integer> I = F.withLanes(int.class);

    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private static VectorSpecies<Float> pickFloatSpecies() {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (preferred.vectorBitSize() > 512) {
            return FloatVector.SPECIES_512;
        }
        if (preferred.vectorBitSize() < 256) {
            return FloatVector.SPECIES_256;
        }
        return preferred;
    }

    // Butterfly shuffles for a fixed-order horizontal sum (reduceLanes(ADD) leaves the order of the
    // additions unspecified, so interpreted and compiled code could round differently).
    private static final VectorShuffle<Float> X8 = L >= 16 ? VectorShuffle.fromOp(F, i -> i ^ 8) : null;
    private static final VectorShuffle<Float> X4 = VectorShuffle.fromOp(F, i -> i ^ 4);
    private static final VectorShuffle<Float> X2 = VectorShuffle.fromOp(F, i -> i ^ 2);
    private static final VectorShuffle<Float> X1 = VectorShuffle.fromOp(F, i -> i ^ 1);

    /** Sum of the lanes, always added in the same (butterfly) order. */
    public static float sum(FloatVector v) {
        if (L >= 16) {
            v = v.add(v.rearrange(X8));
        }
        v = v.add(v.rearrange(X4));
        v = v.add(v.rearrange(X2));
        v = v.add(v.rearrange(X1));
        return v.lane(0);
    }

    /** Swaps lanes 2i and 2i+1 (for interleaved RoPE). */
    static final VectorShuffle<Float> SWAP_PAIRS = X1;

    /** {@code L} signed bytes at {@code seg[off..]} as floats. */
    public static FloatVector bytesToFloats(ByteVector b) {
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, 0);
    }

    public static ByteVector loadBytes(MemorySegment seg, long off) {
        return ByteVector.fromMemorySegment(B, seg, off, LE);
    }

    /**
     * {@code L} IEEE half-precision values (little-endian at {@code seg[off..]}) to floats, exactly:
     * the exponent and mantissa are moved to float position and rebased by 2^112 (which also turns
     * subnormal halves into normal floats); infinities and NaNs get the float's all-ones exponent.
     */
    public static FloatVector halfToFloat(MemorySegment seg, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = h.and(0x7FFF);
        IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7C00);
        IntVector bits = finite.blend(shifted.or(0x7F80_0000), special);
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** {@code L} bfloat16 values at {@code seg[off..]} to floats (the top 16 bits of an F32). */
    public static FloatVector bf16ToFloat(MemorySegment seg, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off, LE).convertShape(VectorOperators.S2I, I, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    public static float half(MemorySegment seg, long off) {
        return Float.float16ToFloat(seg.get(LE_SHORT, off));
    }

    /**
     * The 6-bit scale of sub-block {@code j} of a Q4_K/Q5_K block, from its {@code scales[12]} read
     * as {@code lo} = bytes 0..7 and {@code hi} = bytes 8..11 (little-endian):
     * j &lt; 4: {@code scales[j] & 63}; j &ge; 4: {@code scales[j+4] & 0xF | (scales[j-4] >> 6) << 4}.
     */
    public static int kScale(long lo, int hi, int j) {
        if (j < 4) {
            return (int) (lo >>> (8 * j)) & 63;
        }
        return (hi >>> (8 * (j - 4))) & 0xF | ((int) (lo >>> (8 * (j - 4) + 6)) & 3) << 4;
    }

    /** The 6-bit min of sub-block {@code j}: j &lt; 4: {@code scales[j+4] & 63}; else {@code scales[j+4] >> 4 | (scales[j] >> 6) << 4}. */
    public static int kMin(long lo, int hi, int j) {
        if (j < 4) {
            return (int) (lo >>> (8 * (j + 4))) & 63;
        }
        return (hi >>> (8 * (j - 4) + 4)) & 0xF | ((int) (lo >>> (8 * j + 6)) & 3) << 4;
    }
}
