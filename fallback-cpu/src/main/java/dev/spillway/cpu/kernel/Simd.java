package dev.spillway.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector species and conversions shared by the kernels.
 *
 * <p>{@link #F} is the platform's preferred float species, kept between 256 and 512 bits: the
 * kernels need {@code L = F.length()} to divide 16 (a Q6_K scale group) and a byte species with
 * {@code L} lanes for byte-to-float conversion, which needs at least 64 bits. (A 128-bit-only machine
 * gets 256-bit vectors, correct but not native. Memory is read little-endian, as the x86 and
 * AArch64 platforms of the Vector API are.) {@link #B}, {@link #S} and {@link #I} are the byte,
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
    /** The bytes of one {@link #F} vector (4L lanes). */
    private static final VectorSpecies<Byte> F_BYTES = F.withLanes(byte.class);
    /** The bytes of one {@link #S} vector (2L lanes). */
    static final VectorSpecies<Byte> S_BYTES = S.withLanes(byte.class);

    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    public static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    static {
        if (java.nio.ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("the cpu kernels assume a little-endian platform");
        }
    }

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

    /**
     * Sum of {@code a[off .. off+L)}, the lanes of a vector stored with {@code intoArray}, added in a
     * fixed butterfly order: for d = L/2, ..., 1, {@code a[i] += a[i + d]} for i &lt; d.
     * ({@code reduceLanes(ADD)} leaves the order unspecified, so interpreted and compiled code could
     * round differently; and kernels pass arrays, not vectors, to helpers so that a helper the JIT
     * declines to inline never forces a vector to be boxed.) Overwrites the lanes.
     */
    public static float sumLanes(float[] a, int off) {
        for (int d = L / 2; d >= 1; d /= 2) {
            for (int i = off; i < off + d; i++) {
                a[i] += a[i + d];
            }
        }
        return a[off];
    }

    /**
     * {@code out[outOff + i] = sumLanes(a, aOff + i*L)} for {@code i < n}, bit for bit, in registers:
     * each vector adds its lanes swapped by {@code i ^ d} for d = L/2, ..., 1, which leaves in lane 0
     * exactly the sums {@link #sumLanes} forms (same operands, same order). About 8 vector ops a row
     * instead of ~30 dependent scalar loads, adds and stores.
     */
    public static void sumEach(float[] a, int aOff, int n, float[] out, int outOff) {
        for (int i = 0; i < n; i++) {
            FloatVector v = FloatVector.fromArray(F, a, aOff + i * L);
            if (L == 16) {
                v = v.add(v.rearrange(XOR_8));
            }
            v = v.add(v.rearrange(XOR_4));
            v = v.add(v.rearrange(XOR_2));
            v = v.add(v.rearrange(XOR_1));
            out[outOff + i] = v.lane(0);
        }
    }

    private static final VectorShuffle<Float> XOR_8 = VectorShuffle.fromOp(F, i -> i ^ (8 % L));
    private static final VectorShuffle<Float> XOR_4 = VectorShuffle.fromOp(F, i -> i ^ 4);
    private static final VectorShuffle<Float> XOR_2 = VectorShuffle.fromOp(F, i -> i ^ 2);
    private static final VectorShuffle<Float> XOR_1 = VectorShuffle.fromOp(F, i -> i ^ 1);

    /** Swaps lanes 2i and 2i+1 (for interleaved RoPE). */
    static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);

    /*
     * Half to float, written out in each kernel that needs it (a vector returned by a call C2 does not
     * inline is boxed; fallback-cpu/README.md), from L halves loaded as bytes with S_BYTES and
     * sign-extended to ints h:
     *   bits = (h << 13) & 0x8FFF_E000    sign, exponent and mantissa in float position (the three
     *                                     copies of the sign between them masked off)
     *   f    = float(bits) * 2^112        rebases the exponent (15 to 127), subnormal halves become normal
     *   f    = float(bits | 0x7F80_0000) where (h & 0x7C00) == 0x7C00 (infinities and NaNs)
     * bfloat16 to float is float(h << 16).
     */

    /**
     * {@code L} little-endian floats at {@code seg[off..]}. Loaded as bytes and reinterpreted (free,
     * and right on little-endian platforms, i.e. every Vector API platform): a float load from a
     * segment backed by a {@code byte[]} is not intrinsified by JDK 25 and runs ~15x slower, a byte
     * load is, for heap and native segments alike.
     */
    public static FloatVector loadFloats(MemorySegment seg, long off) {
        return ByteVector.fromMemorySegment(F_BYTES, seg, off, LE).reinterpretAsFloats();
    }


    public static float half(MemorySegment seg, long off) {
        return Float.float16ToFloat(seg.get(LE_SHORT, off));
    }

    /**
     * The eight 6-bit scales of a Q4_K/Q5_K block, one per byte of the result (sub-block j in byte
     * j), from its {@code scales[12]} read as {@code lo} = bytes 0..7 and {@code hi} = bytes 8..11
     * (little-endian). ggml's {@code get_scale_min_k4} packing, four bytes at a time: for j &lt; 4,
     * {@code sc = scales[j] & 63}; for j &ge; 4, {@code sc = scales[j+4] & 0xF | (scales[j-4] >> 6) << 4}.
     */
    public static long k4Scales(long lo, int hi) {
        int w0 = (int) lo;
        int low = w0 & 0x3F3F3F3F;
        int high = hi & 0x0F0F0F0F | ((w0 >>> 6) & 0x03030303) << 4;
        return low & 0xFFFFFFFFL | (long) high << 32;
    }

    /**
     * The eight 6-bit mins, one per byte, as {@link #k4Scales}: for j &lt; 4, {@code m = scales[j+4] & 63};
     * for j &ge; 4, {@code m = scales[j+4] >> 4 | (scales[j] >> 6) << 4}.
     */
    public static long k4Mins(long lo, int hi) {
        int w1 = (int) (lo >>> 32);
        int low = w1 & 0x3F3F3F3F;
        int high = (hi >>> 4) & 0x0F0F0F0F | ((w1 >>> 6) & 0x03030303) << 4;
        return low & 0xFFFFFFFFL | (long) high << 32;
    }

    /** Byte {@code j} of a packed {@link #k4Scales} / {@link #k4Mins} value. */
    public static int k4Byte(long packed, int j) {
        return (int) (packed >>> (8 * j)) & 0xFF;
    }
}
