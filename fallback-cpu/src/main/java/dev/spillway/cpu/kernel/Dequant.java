package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;
import static dev.spillway.cpu.kernel.Simd.bytesToFloats;
import static dev.spillway.cpu.kernel.Simd.half;
import static dev.spillway.cpu.kernel.Simd.loadBytes;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vectorized block decoding into a float array: the weight tiles of {@link MatMat} and the K/V rows
 * of {@link Attention}. Each value is computed with the same operations, in the same order, as
 * {@link Quants#dequantize}, so the results are bit-identical to the scalar codec (block layouts are
 * quoted there and in {@link MatVec}).
 */
public final class Dequant {
    private Dequant() {
    }

    /** Decodes {@code n} elements (whole blocks) at {@code src[off..]} into {@code dst[dOff .. dOff+n)}. */
    public static void decode(GgmlType type, MemorySegment src, long off, float[] dst, int dOff, int n) {
        switch (type) {
            case F32 -> decodeF32(src, off, dst, dOff, n);
            case F16 -> decodeF16(src, off, dst, dOff, n);
            case BF16 -> decodeBf16(src, off, dst, dOff, n);
            case Q8_0 -> {
                for (int b = 0; b < n / Quants.QK; b++) {
                    q8_0Block(src, off + 34L * b, dst, dOff + 32 * b);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / Quants.QK; b++) {
                    q4_0Block(src, off + 18L * b, dst, dOff + 32 * b);
                }
            }
            case Q4_1 -> {
                for (int b = 0; b < n / Quants.QK; b++) {
                    q4_1Block(src, off + 20L * b, dst, dOff + 32 * b);
                }
            }
            case Q4_K, Q5_K -> {
                int bb = type.blockBytes();
                for (int b = 0; b < n / Quants.QK_K; b++) {
                    q45KBlock(type == GgmlType.Q5_K, src, off + (long) bb * b, dst, dOff + 256 * b);
                }
            }
            case Q6_K -> {
                for (int b = 0; b < n / Quants.QK_K; b++) {
                    q6KBlock(src, off + 210L * b, dst, dOff + 256 * b);
                }
            }
            default -> throw new IllegalArgumentException("no decoder for " + type);
        }
    }

    /**
     * Decodes elements {@code [e0, e0+count)} of a row at {@code src[rowOff..]}, which may start and
     * end inside a block: the covering blocks go to {@code buf[0..]}, and the returned index is where
     * element {@code e0} landed. {@code buf} needs {@code count + 2 * blockElements} floats.
     */
    public static int decodeSlice(GgmlType type, MemorySegment src, long rowOff, int e0, int count, float[] buf) {
        int be = type.blockElements();
        int first = e0 / be;
        int end = (e0 + count + be - 1) / be;
        decode(type, src, rowOff + (long) first * type.blockBytes(), buf, 0, (end - first) * be);
        return e0 - first * be;
    }

    private static void decodeF32(MemorySegment src, long off, float[] dst, int dOff, int n) {
        MemorySegment.copy(src, Simd.LE_FLOAT, off, dst, dOff, n);
    }

    private static void decodeF16(MemorySegment src, long off, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            Simd.halfToFloat(src, off + 2L * i).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = half(src, off + 2L * i);
        }
    }

    private static void decodeBf16(MemorySegment src, long off, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            Simd.bf16ToFloat(src, off + 2L * i).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = Quants.bf16ToFloat(src.get(Simd.LE_SHORT, off + 2L * i));
        }
    }

    // block_q8_0: ggml_half d; int8_t qs[32]
    private static void q8_0Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        for (int p = 0; p < 32; p += L) {
            bytesToFloats(loadBytes(src, off + 2 + p)).mul(d).intoArray(dst, dOff + p);
        }
    }

    // block_q4_0: ggml_half d; uint8_t qs[16]; value = (nibble - 8) * d
    private static void q4_0Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        for (int p = 0; p < 16; p += L) {
            ByteVector q = loadBytes(src, off + 2 + p);
            bytesToFloats(q.and((byte) 0xF).sub((byte) 8)).mul(d).intoArray(dst, dOff + p);
            bytesToFloats(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8)).mul(d).intoArray(dst, dOff + 16 + p);
        }
    }

    // block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]; value = nibble * d + m
    private static void q4_1Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        float m = half(src, off + 2);
        for (int p = 0; p < 16; p += L) {
            ByteVector q = loadBytes(src, off + 4 + p);
            bytesToFloats(q.and((byte) 0xF)).fma(d, m).intoArray(dst, dOff + p);
            bytesToFloats(q.lanewise(VectorOperators.LSHR, 4)).fma(d, m).intoArray(dst, dOff + 16 + p);
        }
    }

    // block_q4_K / block_q5_K: value = (d*sc) * q - dmin*m, sub-block 2k in the low nibbles of
    // qs[32k..32k+32), 2k+1 in the high ones; Q5_K adds bit s of qh[l] as 16
    private static void q45KBlock(boolean five, MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        float dmin = half(src, off + 2);
        long lo = src.get(Simd.LE_LONG, off + Quants.K_SCALES);
        int hi = src.get(Simd.LE_INT, off + Quants.K_SCALES + 8);
        long qs = off + (five ? Quants.Q5K_QS : Quants.Q4K_QS);
        for (int k = 0; k < 4; k++) {
            float s0 = d * Simd.kScale(lo, hi, 2 * k), m0 = -(dmin * Simd.kMin(lo, hi, 2 * k));
            float s1 = d * Simd.kScale(lo, hi, 2 * k + 1), m1 = -(dmin * Simd.kMin(lo, hi, 2 * k + 1));
            for (int p = 0; p < 32; p += L) {
                ByteVector q = loadBytes(src, qs + 32 * k + p);
                ByteVector q0 = q.and((byte) 0xF);
                ByteVector q1 = q.lanewise(VectorOperators.LSHR, 4);
                if (five) {
                    ByteVector h = loadBytes(src, off + Quants.Q5K_QH + p);
                    q0 = q0.or(MatVec.fifthBit(h, 2 * k));
                    q1 = q1.or(MatVec.fifthBit(h, 2 * k + 1));
                }
                bytesToFloats(q0).fma(s0, m0).intoArray(dst, dOff + 64 * k + p);
                bytesToFloats(q1).fma(s1, m1).intoArray(dst, dOff + 64 * k + 32 + p);
            }
        }
    }

    // block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d (see MatVec.dotQ6K)
    private static void q6KBlock(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off + Quants.Q6K_D);
        for (int h = 0; h < 2; h++) {
            long ql = off + 64 * h;
            long qh = off + Quants.Q6K_QH + 32 * h;
            long sc = off + Quants.Q6K_SCALES + 8 * h;
            int o = dOff + 128 * h;
            for (int p = 0; p < 32; p += L) {
                ByteVector l0 = loadBytes(src, ql + p);
                ByteVector l32 = loadBytes(src, ql + 32 + p);
                ByteVector hb = loadBytes(src, qh + p);
                int g = p / 16;
                q6Store(l0.and((byte) 0xF), hb.lanewise(VectorOperators.LSHL, 4), d, src, sc + g, dst, o + p);
                q6Store(l32.and((byte) 0xF), hb.lanewise(VectorOperators.LSHL, 2), d, src, sc + 2 + g, dst, o + 32 + p);
                q6Store(l0.lanewise(VectorOperators.LSHR, 4), hb, d, src, sc + 4 + g, dst, o + 64 + p);
                q6Store(l32.lanewise(VectorOperators.LSHR, 4), hb.lanewise(VectorOperators.LSHR, 2), d, src, sc + 6 + g,
                        dst, o + 96 + p);
            }
        }
    }

    private static void q6Store(ByteVector low, ByteVector high, float d, MemorySegment src, long scaleAt, float[] dst,
                                int at) {
        FloatVector q = bytesToFloats(low.or(high.and((byte) 0x30)).sub((byte) 32));
        q.mul(d * src.get(ValueLayout.JAVA_BYTE, scaleAt)).intoArray(dst, at);
    }
}
