package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.B;
import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;
import static dev.spillway.cpu.kernel.Simd.LE;
import static dev.spillway.cpu.kernel.Simd.half;
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.EQ;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShuffle;

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
            // the half-to-float conversion (Simd) written out: called, C2 at times left it out of line (a cold call site
            // when it compiled) and boxed every vector, an F16 prompt then ran 8 times slower.
            IntVector h = (IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, src, off + 2L * i, LE).reinterpretAsShorts()
                    .convertShape(S2I, Simd.I, 0);
            IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
            bits.reinterpretAsFloats().mul(0x1p112f)
                    .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(F))
                    .intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = half(src, off + 2L * i);
        }
    }

    private static void decodeBf16(MemorySegment src, long off, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            ((IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, src, off + 2L * i, LE).reinterpretAsShorts()   // Simd.bf16ToFloat
                    .convertShape(S2I, Simd.I, 0)).lanewise(LSHL, 16).reinterpretAsFloats().intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = Quants.bf16ToFloat(src.get(Simd.LE_SHORT, off + 2L * i));
        }
    }

    // block_q8_0: ggml_half d; int8_t qs[32]
    private static void q8_0Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        for (int p = 0; p < 32; p += L) {
            ((FloatVector) ByteVector.fromMemorySegment(B, src, off + 2 + p, LE).convertShape(B2F, F, 0)).mul(d)
                    .intoArray(dst, dOff + p);
        }
    }

    /** Chunk bytes {@code 2r + p} reordered to {@code p G + r}: the even bytes (column 2j of each row) first. */
    private static final VectorShuffle<Byte> EVENS_FIRST =
            VectorShuffle.fromOp(RowGroups.BW, i -> i < RowGroups.G ? 2 * i : 2 * (i - RowGroups.G) + 1);

    /**
     * One block of a group of {@link RowGroups#G} Q8_0 rows packed by {@link RowGroups#pack}
     * ({@code src[off..]}: the G row scales, then 16 chunks of 2G bytes, byte {@code 2r + p} of chunk j
     * being weight {@code 2j + p} of row r), decoded column by column: weight c of row r goes to
     * {@code dst[dOff + c colStride + r]}. The values are those of {@link #decode} on the file's
     * layout ({@code (float) q * d}), bit for bit.
     */
    public static void q8_0GroupBlock(MemorySegment src, long off, float[] dst, int dOff, int colStride) {
        // The G row scales: the half-to-float conversion (Simd) written out, as in PackedQ8_0.
        IntVector h = (IntVector) ByteVector.fromMemorySegment(RowGroups.BW, src, off, LE).reinterpretAsShorts()
                .convertShape(S2I, Simd.I, 0);
        IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
        FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(F));
        for (int j = 0; j < 16; j++) {
            ByteVector q = ByteVector.fromMemorySegment(RowGroups.BW, src, off + 2L * RowGroups.G * (j + 1), LE)
                    .rearrange(EVENS_FIRST);
            ((FloatVector) q.convertShape(B2F, F, 0)).mul(d).intoArray(dst, dOff + 2 * j * colStride);
            ((FloatVector) q.convertShape(B2F, F, 1)).mul(d).intoArray(dst, dOff + (2 * j + 1) * colStride);
        }
    }

    // block_q4_0: ggml_half d; uint8_t qs[16]; element j < 16: low nibble of qs[j], j >= 16: high
    // nibble of qs[j-16]; value = (nibble - 8) * d
    private static void q4_0Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        for (int e = 0; e < 32; e += L) {
            int shift = e < 16 ? 0 : 4;
            ByteVector q = ByteVector.fromMemorySegment(B, src, off + 2 + (e & 15), LE).reinterpretAsShorts()
                    .lanewise(LSHR, shift).reinterpretAsBytes().and((byte) 0xF);
            ((FloatVector) q.sub((byte) 8).convertShape(B2F, F, 0)).mul(d).intoArray(dst, dOff + e);
        }
    }

    // block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]; nibbles as Q4_0; value = nibble * d + m
    private static void q4_1Block(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        float m = half(src, off + 2);
        for (int e = 0; e < 32; e += L) {
            int shift = e < 16 ? 0 : 4;
            ByteVector q = ByteVector.fromMemorySegment(B, src, off + 4 + (e & 15), LE).reinterpretAsShorts()
                    .lanewise(LSHR, shift).reinterpretAsBytes().and((byte) 0xF);
            ((FloatVector) q.convertShape(B2F, F, 0)).fma(d, m).intoArray(dst, dOff + e);
        }
    }

    // block_q4_K / block_q5_K: value = (d*sc) * q - dmin*m; sub-block s in the low (even s) or high
    // (odd s) nibbles of qs[32*(s/2) ..]; Q5_K adds bit s of qh[l] as 16
    private static void q45KBlock(boolean five, MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off);
        float dmin = half(src, off + 2);
        long lo = src.get(Simd.LE_LONG, off + Quants.K_SCALES);
        int hi = src.get(Simd.LE_INT, off + Quants.K_SCALES + 8);
        long scales = Simd.k4Scales(lo, hi), mins = Simd.k4Mins(lo, hi);
        long qs = off + (five ? Quants.Q5K_QS : Quants.Q4K_QS);
        for (int s = 0; s < 8; s++) {
            float scale = d * Simd.k4Byte(scales, s);
            float min = -(dmin * Simd.k4Byte(mins, s));
            int shift = 4 * (s & 1);
            for (int p = 0; p < 32; p += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, src, qs + 32 * (s >> 1) + p, LE).reinterpretAsShorts()
                        .lanewise(LSHR, shift).reinterpretAsBytes().and((byte) 0xF);
                if (five) { // bit s of qh moved to bit 4 (16-bit shifts; the mask drops bits from the other byte)
                    q = q.or(ByteVector.fromMemorySegment(B, src, off + Quants.Q5K_QH + p, LE).reinterpretAsShorts()
                            .lanewise(LSHR, s).lanewise(LSHL, 4).reinterpretAsBytes().and((byte) 0x10));
                }
                ((FloatVector) q.convertShape(B2F, F, 0)).fma(scale, min).intoArray(dst, dOff + 32 * s + p);
            }
        }
    }

    // block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d (layout: MatVec.rowsQ6K)
    private static void q6KBlock(MemorySegment src, long off, float[] dst, int dOff) {
        float d = half(src, off + Quants.Q6K_D);
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 4; j++) {
                long ql = off + 64 * h + 32 * (j & 1);
                long qh = off + Quants.Q6K_QH + 32 * h;
                int lowShift = 4 * (j >> 1);
                for (int p = 0; p < 32; p += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, src, ql + p, LE).reinterpretAsShorts()
                            .lanewise(LSHR, lowShift).reinterpretAsBytes().and((byte) 0xF)
                            .or(ByteVector.fromMemorySegment(B, src, qh + p, LE).reinterpretAsShorts()
                                    .lanewise(LSHR, 2 * j).lanewise(LSHL, 4).reinterpretAsBytes().and((byte) 0x30));
                    float scale = d * src.get(ValueLayout.JAVA_BYTE, off + Quants.Q6K_SCALES + 8 * h + 2 * j + p / 16);
                    ((FloatVector) q.sub((byte) 32).convertShape(B2F, F, 0)).mul(scale).intoArray(dst, dOff + 128 * h + 32 * j + p);
                }
            }
        }
    }
}
