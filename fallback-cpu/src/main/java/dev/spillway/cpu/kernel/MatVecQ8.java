package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.LE;
import static dev.spillway.cpu.kernel.Simd.half;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-vector product on the integer path: the activation row is quantized once to 8-bit blocks of
 * 32 with one scale each (llama.cpp's {@code block_q8_0} for activations), pre-widened to 16-bit,
 * and each weight block's dot product is formed in integer lanes; only the block's sum is converted
 * to float and scaled, by {@code d_w * d_x}. Per block of 32 that is 2 floating-point ops (one
 * conversion, one FMA) where the float path ({@link MatVec}) needs 5, and the integer ops issue
 * beside them.
 *
 * <p>The Vector API has no pairwise multiply-add, so the pairs are summed by hand: two 16-bit
 * products per 32-bit lane, {@code (p << 16 >> 16) + (p >> 16)}. Products fit 16 bits with room
 * for one more: Q8_0 {@code |w x| <= 127 * 127}, so the two halves of a block add up in 16 bits
 * before the pairs are summed (|sum| &lt;= 32258).
 *
 * <p>Vectors are 256 bits (16 shorts, 8 ints and floats) on every machine: on Zen 4 a 512-bit op
 * costs two 256-bit ones, so the narrower form does the same work in fewer ops (no lane
 * rearrangement to line nibbles up), and on AVX2 it is the native width.
 *
 * <p>Results differ from the float path by the rounding of the activations; see
 * {@link #errorBound}.
 */
public final class MatVecQ8 {
    private MatVecQ8() {
    }

    static final VectorSpecies<Byte> BQ = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> SQ = ShortVector.SPECIES_256;
    static final VectorSpecies<Float> FQ = FloatVector.SPECIES_256;

    /** The weight types with an integer-path kernel. */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
    }

    /**
     * Quantizes {@code x[xOff .. xOff+cols)} (cols a multiple of 32) as llama.cpp's
     * {@code quantize_row_q8_0} does: per block {@code d = max|x| / 127} rounded to half precision,
     * {@code q = round(x / d)} (half away from zero); q goes to {@code qx[0..cols)} widened to
     * shorts, d to {@code dx[0..cols/32)}.
     */
    public static void quantize(float[] x, int xOff, int cols, short[] qx, float[] dx) {
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
        switch (type) {
            case Q8_0 -> rowsQ8_0(w, rowBytes, cols / Quants.QK, qx, dx, out, outOff, r0, r1);
            case Q4_0 -> rowsQ4_0(w, rowBytes, cols / Quants.QK, qx, dx, out, outOff, r0, r1);
            default -> throw new IllegalArgumentException("no integer-path mat-vec kernel for " + type);
        }
    }

    // block_q8_0: ggml_half d; int8_t qs[32].
    static void rowsQ8_0(MemorySegment w, long rowBytes, int blocks, short[] qx, float[] dx, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[8];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(FQ), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 34) {
                ShortVector w0 = (ShortVector) ByteVector.fromMemorySegment(BQ, w, a + 2, LE).convertShape(B2S, SQ, 0);
                ShortVector w1 = (ShortVector) ByteVector.fromMemorySegment(BQ, w, a + 18, LE).convertShape(B2S, SQ, 0);
                ShortVector p = w0.mul(ShortVector.fromArray(SQ, qx, 32 * k)).add(w1.mul(ShortVector.fromArray(SQ, qx, 32 * k + 16)));
                IntVector pi = p.reinterpretAsInts();
                FloatVector s = (FloatVector) pi.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pi.lanewise(ASHR, 16)).convert(I2F, 0);
                FloatVector scale = FloatVector.broadcast(FQ, half(w, a) * dx[k]);
                if ((k & 1) == 0) {
                    acc0 = s.fma(scale, acc0);
                } else {
                    acc1 = s.fma(scale, acc1);
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            out[oo + r] = sum8(lanes);
        }
    }

    // block_q4_0: ggml_half d; uint8_t qs[16]; element j: low nibble of qs[j], element 16+j: high nibble;
    // value = (nibble - 8) * d.
    static void rowsQ4_0(MemorySegment w, long rowBytes, int blocks, short[] qx, float[] dx, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[8];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(FQ), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 18) {
                ByteVector q = ByteVector.fromMemorySegment(BQ, w, a + 2, LE);
                ByteVector lo = q.and((byte) 0xF).sub((byte) 8);
                ByteVector hi = q.reinterpretAsShorts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0xF).sub((byte) 8);
                ShortVector p = ((ShortVector) lo.convertShape(B2S, SQ, 0)).mul(ShortVector.fromArray(SQ, qx, 32 * k))
                        .add(((ShortVector) hi.convertShape(B2S, SQ, 0)).mul(ShortVector.fromArray(SQ, qx, 32 * k + 16)));
                IntVector pi = p.reinterpretAsInts();
                FloatVector s = (FloatVector) pi.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pi.lanewise(ASHR, 16)).convert(I2F, 0);
                FloatVector scale = FloatVector.broadcast(FQ, half(w, a) * dx[k]);
                if ((k & 1) == 0) {
                    acc0 = s.fma(scale, acc0);
                } else {
                    acc1 = s.fma(scale, acc1);
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            out[oo + r] = sum8(lanes);
        }
    }

    /** Fixed-order sum of 8 lanes (the butterfly {@link Simd#sumLanes} uses). */
    static float sum8(float[] a) {
        float s0 = a[0] + a[4], s1 = a[1] + a[5], s2 = a[2] + a[6], s3 = a[3] + a[7];
        return (s0 + s2) + (s1 + s3);
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
