package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.LE;
import static dev.spillway.cpu.kernel.Simd.half;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-vector product on the integer path: the activation row is quantized once to 8-bit blocks of
 * 32 with one scale each (llama.cpp's {@code block_q8_0} for activations), pre-widened to 16-bit,
 * and each weight block's dot product is formed in integer lanes; only the block's sum is converted
 * to float and scaled, by {@code d_w * d_x}. Per block of 32 that is 2 floating-point ops (one
 * conversion, one FMA) where the float path ({@link MatVec}) needs 5; the integer ops issue beside
 * them.
 *
 * <p>The Vector API has no pairwise multiply-add ({@code vpmaddwd}, {@code vpdpbusd}), so the pairs
 * are summed by hand: two 16-bit products per 32-bit lane, {@code (p << 16 >> 16) + (p >> 16)}.
 * Q8_0 products fit 16 bits ({@code |w x| <= 127 * 127}); with 256-bit vectors the two halves of a
 * block are added in 16 bits first (|sum| &lt;= 32258).
 *
 * <p>Only Q8_0 has an integer kernel. Measured on Zen 4 (AVX-512), in cache, ns per 32-element block:
 * Q8_0 float 1.77, integer 1.21 (512-bit; 1.55 to 1.87 for 256-bit forms). Q4_0 float 1.28 to 1.35,
 * integer 1.50 to 2.3 in four forms: unpacking nibbles into 16-bit lanes costs more than the
 * conversions it saves, so Q4_0 stays on the float path.
 *
 * <p>Results differ from the float path by the rounding of the activations; see {@link #errorBound}.
 */
public final class MatVecQ8 {
    private MatVecQ8() {
    }

    /** {@code 2L} shorts: one vector of the float species' width. */
    static final VectorSpecies<Short> SW = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(Simd.F.vectorBitSize()));
    /** {@code 2L} bytes (half the width), widened to {@link #SW}. */
    static final VectorSpecies<Byte> BW = ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(Simd.F.vectorBitSize() / 2));
    /** Elements per vector: 32 on AVX-512 (one block), 16 on AVX2. */
    static final int E = SW.length();

    /** The weight types with an integer-path kernel. */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q8_0;
    }

    /**
     * Quantizes {@code x[xOff .. xOff+cols)} (cols a multiple of 32) as llama.cpp's
     * {@code quantize_row_q8_0} does: per block {@code d = max|x| / 127} rounded to half precision,
     * {@code q = round(x / d)} (half away from zero); q goes to {@code qx[0..cols)} widened to
     * shorts, d to {@code dx[0..cols/32)}.
     */
    public static void quantize(float[] x, int xOff, int cols, short[] qx, float[] dx) {
        // Vectorized, bit for bit the scalar rule: the maximum is exact in any order, and
        // (int) (v + copysign(0.5, v)) is v >= 0 ? (int) (v + 0.5f) : -(int) (-v + 0.5f).
        FloatVector half = FloatVector.broadcast(Simd.F, 0.5f);
        for (int k = 0; k < cols / Quants.QK; k++) {
            int b = xOff + Quants.QK * k;
            FloatVector m = FloatVector.zero(Simd.F);
            for (int j = 0; j < Quants.QK; j += Simd.L) {
                m = m.max(FloatVector.fromArray(Simd.F, x, b + j).abs());
            }
            float amax = m.reduceLanes(VectorOperators.MAX);
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < Quants.QK; j += Simd.L) {
                FloatVector v = FloatVector.fromArray(Simd.F, x, b + j).mul(id);
                FloatVector away = v.reinterpretAsInts().and(0x8000_0000).or(half.reinterpretAsInts()).reinterpretAsFloats();
                ((IntVector) v.add(away).convert(VectorOperators.F2I, 0)).convertShape(VectorOperators.I2S, HALF_SHORTS, 0)
                        .reinterpretAsShorts().intoArray(qx, Quants.QK * k + j);
            }
            dx[k] = Float.float16ToFloat(Float.floatToFloat16(d));
        }
    }

    /** {@code L} shorts, the result of narrowing one int vector. */
    private static final VectorSpecies<Short> HALF_SHORTS = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(16 * Simd.L));

    /** The scalar form of {@link #quantize} (its reference in tests). */
    public static void quantizeScalar(float[] x, int xOff, int cols, short[] qx, float[] dx) {
        for (int k = 0; k < cols / Quants.QK; k++) {
            int b = xOff + Quants.QK * k;
            float amax = 0;
            for (int j = 0; j < Quants.QK; j++) {
                amax = Math.max(amax, Math.abs(x[b + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < Quants.QK; j++) {
                float v = x[b + j] * id;
                qx[Quants.QK * k + j] = (short) (v >= 0 ? (int) (v + 0.5f) : -(int) (-v + 0.5f));
            }
            dx[k] = Float.float16ToFloat(Float.floatToFloat16(d));
        }
    }

    /**
     * Rows {@code [r0, r1)} of {@code out[outOff + r] = W[r] . x}, x given by {@link #quantize}.
     */
    public static void matVec(GgmlType type, MemorySegment w, long rowBytes, int cols, short[] qx, float[] dx,
                              float[] out, int outOff, int r0, int r1) {
        if (type != GgmlType.Q8_0) {
            throw new IllegalArgumentException("no integer-path mat-vec kernel for " + type);
        }
        rowsQ8_0(w, rowBytes, cols / Quants.QK, qx, dx, out, outOff, r0, r1);
    }

    // block_q8_0: ggml_half d; int8_t qs[32].
    static void rowsQ8_0(MemorySegment w, long rowBytes, int blocks, short[] qx, float[] dx, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[Simd.L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int k = 0; k < blocks; k++, a += 34) {
                ShortVector p = ((ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2, LE).convertShape(B2S, SW, 0))
                        .mul(ShortVector.fromArray(SW, qx, 32 * k));
                for (int e = E; e < 32; e += E) {   // 256-bit vectors: the block's second half, added in 16 bits
                    p = p.add(((ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2 + e, LE).convertShape(B2S, SW, 0))
                            .mul(ShortVector.fromArray(SW, qx, 32 * k + e)));
                }
                IntVector pi = p.reinterpretAsInts();
                FloatVector s = (FloatVector) pi.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pi.lanewise(ASHR, 16)).convert(I2F, 0);
                acc = s.fma(FloatVector.broadcast(Simd.F, half(w, a) * dx[k]), acc);
            }
            acc.intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    /**
     * A bound on |integer path - exact| for one output, given the activations and the weights as
     * decoded: each block's activation error is at most {@code d_x / 2} per element (rounding) plus
     * the half-precision rounding of {@code d_x} (relative 2^-11), so
     * {@code |err| <= sum_k (d_x[k]/2 * sum_j |w_kj| + 2^-11 * |sum_j w_kj x_kj|)} plus float
     * accumulation error; callers add their own accumulation term.
     */
    public static double errorBound(float[] w, float[] x, int cols) {
        double bound = 0;
        for (int k = 0; k < cols / Quants.QK; k++) {
            double amax = 0;
            for (int j = 0; j < Quants.QK; j++) {
                amax = Math.max(amax, Math.abs(x[Quants.QK * k + j]));
            }
            double d = amax / 127;
            double wsum = 0;
            double dot = 0;
            for (int j = 0; j < Quants.QK; j++) {
                wsum += Math.abs(w[Quants.QK * k + j]);
                dot += Math.abs((double) w[Quants.QK * k + j] * x[Quants.QK * k + j]);
            }
            // rounding of x/d (half a step, the step itself off by d's half rounding) and of d
            bound += (d / 2) * (1 + 0x1p-10) * wsum + 0x1p-10 * dot;
        }
        return bound;
    }
}
