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
 * Matrix-vector product for one token: {@code out[r] = dot(W[r], x)} with W in its GGUF block
 * format. Memory-bandwidth bound, so each row is decoded straight from the (mapped, unaligned,
 * read-only) segment into vector registers: no temporary buffer. Every dot product ends in the
 * fixed-order {@link Simd#sum}, so a row's result never depends on how rows are split among threads.
 */
public final class MatVec {
    private MatVec() {
    }

    /**
     * Rows {@code [r0, r1)} of {@code out[outOff + r] = W[r] . x[xOff .. xOff+cols)}, W holding
     * {@code rowBytes} bytes per row of {@code cols} elements at {@code w[0..]}.
     */
    public static void matVec(GgmlType type, MemorySegment w, long rowBytes, int cols, float[] x, int xOff,
                              float[] out, int outOff, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            out[outOff + r] = dot(type, w, r * rowBytes, cols, x, xOff);
        }
    }

    /** One row: {@code W[off..] . x[xOff .. xOff+cols)}. */
    public static float dot(GgmlType type, MemorySegment w, long off, int cols, float[] x, int xOff) {
        return switch (type) {
            case F32 -> dotF32(w, off, x, xOff, cols);
            case F16 -> dotF16(w, off, x, xOff, cols);
            case BF16 -> dotBf16(w, off, x, xOff, cols);
            case Q8_0 -> dotQ8_0(w, off, x, xOff, cols / Quants.QK);
            case Q4_0 -> dotQ4_0(w, off, x, xOff, cols / Quants.QK);
            case Q4_1 -> dotQ4_1(w, off, x, xOff, cols / Quants.QK);
            case Q4_K -> dotQ45K(false, w, off, x, xOff, cols / Quants.QK_K);
            case Q5_K -> dotQ45K(true, w, off, x, xOff, cols / Quants.QK_K);
            case Q6_K -> dotQ6K(w, off, x, xOff, cols / Quants.QK_K);
            default -> throw new IllegalArgumentException("no mat-vec kernel for " + type);
        };
    }

    private static FloatVector xv(float[] x, int i) {
        return FloatVector.fromArray(F, x, i);
    }

    // ---- plain floats: two accumulators, a scalar tail for cols % L ----------------------------

    static float dotF32(MemorySegment w, long off, float[] x, int xo, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            a0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, Simd.LE).fma(xv(x, xo + i), a0);
            a1 = FloatVector.fromMemorySegment(F, w, off + 4L * (i + L), Simd.LE).fma(xv(x, xo + i + L), a1);
        }
        if (i + L <= n) {
            a0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, Simd.LE).fma(xv(x, xo + i), a0);
            i += L;
        }
        float s = Simd.sum(a0.add(a1));
        for (; i < n; i++) {
            s = Math.fma(w.get(Simd.LE_FLOAT, off + 4L * i), x[xo + i], s);
        }
        return s;
    }

    static float dotF16(MemorySegment w, long off, float[] x, int xo, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            a0 = Simd.halfToFloat(w, off + 2L * i).fma(xv(x, xo + i), a0);
            a1 = Simd.halfToFloat(w, off + 2L * (i + L)).fma(xv(x, xo + i + L), a1);
        }
        if (i + L <= n) {
            a0 = Simd.halfToFloat(w, off + 2L * i).fma(xv(x, xo + i), a0);
            i += L;
        }
        float s = Simd.sum(a0.add(a1));
        for (; i < n; i++) {
            s = Math.fma(half(w, off + 2L * i), x[xo + i], s);
        }
        return s;
    }

    static float dotBf16(MemorySegment w, long off, float[] x, int xo, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            a0 = Simd.bf16ToFloat(w, off + 2L * i).fma(xv(x, xo + i), a0);
            a1 = Simd.bf16ToFloat(w, off + 2L * (i + L)).fma(xv(x, xo + i + L), a1);
        }
        if (i + L <= n) {
            a0 = Simd.bf16ToFloat(w, off + 2L * i).fma(xv(x, xo + i), a0);
            i += L;
        }
        float s = Simd.sum(a0.add(a1));
        for (; i < n; i++) {
            s = Math.fma(Quants.bf16ToFloat(w.get(Simd.LE_SHORT, off + 2L * i)), x[xo + i], s);
        }
        return s;
    }

    // ---- 32-element blocks: two accumulators over alternating blocks -------------------------

    // block_q8_0: ggml_half d; int8_t qs[32]
    static float dotQ8_0(MemorySegment w, long off, float[] x, int xo, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            a0 = q8_0Block(w, off + 34L * b, x, xo + 32 * b, a0);
            a1 = q8_0Block(w, off + 34L * (b + 1), x, xo + 32 * (b + 1), a1);
        }
        if (b < blocks) {
            a0 = q8_0Block(w, off + 34L * b, x, xo + 32 * b, a0);
        }
        return Simd.sum(a0.add(a1));
    }

    private static FloatVector q8_0Block(MemorySegment w, long off, float[] x, int xo, FloatVector acc) {
        FloatVector s = FloatVector.zero(F);
        for (int p = 0; p < 32; p += L) {
            s = bytesToFloats(loadBytes(w, off + 2 + p)).fma(xv(x, xo + p), s);
        }
        return s.fma(FloatVector.broadcast(F, half(w, off)), acc);
    }

    // block_q4_0: ggml_half d; uint8_t qs[16]; element j: low nibble of qs[j], element 16+j: high nibble
    static float dotQ4_0(MemorySegment w, long off, float[] x, int xo, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            a0 = q4_0Block(w, off + 18L * b, x, xo + 32 * b, a0);
            a1 = q4_0Block(w, off + 18L * (b + 1), x, xo + 32 * (b + 1), a1);
        }
        if (b < blocks) {
            a0 = q4_0Block(w, off + 18L * b, x, xo + 32 * b, a0);
        }
        return Simd.sum(a0.add(a1));
    }

    private static FloatVector q4_0Block(MemorySegment w, long off, float[] x, int xo, FloatVector acc) {
        FloatVector s = FloatVector.zero(F);
        for (int p = 0; p < 16; p += L) {
            ByteVector q = loadBytes(w, off + 2 + p);
            s = bytesToFloats(q.and((byte) 0xF).sub((byte) 8)).fma(xv(x, xo + p), s);
            s = bytesToFloats(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8)).fma(xv(x, xo + 16 + p), s);
        }
        return s.fma(FloatVector.broadcast(F, half(w, off)), acc);
    }

    // block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]; value = nibble*d + m
    static float dotQ4_1(MemorySegment w, long off, float[] x, int xo, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            a0 = q4_1Block(w, off + 20L * b, x, xo + 32 * b, a0);
            a1 = q4_1Block(w, off + 20L * (b + 1), x, xo + 32 * (b + 1), a1);
        }
        if (b < blocks) {
            a0 = q4_1Block(w, off + 20L * b, x, xo + 32 * b, a0);
        }
        return Simd.sum(a0.add(a1));
    }

    private static FloatVector q4_1Block(MemorySegment w, long off, float[] x, int xo, FloatVector acc) {
        FloatVector d = FloatVector.broadcast(F, half(w, off));
        FloatVector m = FloatVector.broadcast(F, half(w, off + 2));
        for (int p = 0; p < 16; p += L) {
            ByteVector q = loadBytes(w, off + 4 + p);
            acc = bytesToFloats(q.and((byte) 0xF)).fma(d, m).fma(xv(x, xo + p), acc);
            acc = bytesToFloats(q.lanewise(VectorOperators.LSHR, 4)).fma(d, m).fma(xv(x, xo + 16 + p), acc);
        }
        return acc;
    }

    // ---- K-quants: 256-element super-blocks -------------------------------------------------

    // block_q4_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]
    // block_q5_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]
    // qs[32k + l]: low nibble = element 64k + l (sub-block 2k), high nibble = element 64k + 32 + l (2k+1);
    // Q5_K: bit s of qh[l] is the 5th bit (value 16) of element 32s + l. value = d*sc*q - dmin*m
    static float dotQ45K(boolean five, MemorySegment w, long off, float[] x, int xo, int blocks) {
        int blockBytes = five ? 176 : 144;
        int qsAt = five ? Quants.Q5K_QS : Quants.Q4K_QS;
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int b = 0; b < blocks; b++, off += blockBytes, xo += 256) {
            float d = half(w, off);
            float dmin = half(w, off + 2);
            long lo = w.get(Simd.LE_LONG, off + Quants.K_SCALES);
            int hi = w.get(Simd.LE_INT, off + Quants.K_SCALES + 8);
            for (int k = 0; k < 4; k++) {
                FloatVector s0 = FloatVector.broadcast(F, d * Simd.kScale(lo, hi, 2 * k));
                FloatVector m0 = FloatVector.broadcast(F, -dmin * Simd.kMin(lo, hi, 2 * k));
                FloatVector s1 = FloatVector.broadcast(F, d * Simd.kScale(lo, hi, 2 * k + 1));
                FloatVector m1 = FloatVector.broadcast(F, -dmin * Simd.kMin(lo, hi, 2 * k + 1));
                for (int p = 0; p < 32; p += L) {
                    ByteVector q = loadBytes(w, off + qsAt + 32 * k + p);
                    ByteVector q0 = q.and((byte) 0xF);
                    ByteVector q1 = q.lanewise(VectorOperators.LSHR, 4);
                    if (five) {
                        ByteVector h = loadBytes(w, off + Quants.Q5K_QH + p);
                        q0 = q0.or(fifthBit(h, 2 * k));
                        q1 = q1.or(fifthBit(h, 2 * k + 1));
                    }
                    a0 = bytesToFloats(q0).fma(s0, m0).fma(xv(x, xo + 64 * k + p), a0);
                    a1 = bytesToFloats(q1).fma(s1, m1).fma(xv(x, xo + 64 * k + 32 + p), a1);
                }
            }
        }
        return Simd.sum(a0.add(a1));
    }

    /** {@code ((qh >> s) & 1) << 4}: sub-block s's high bit moved to the value 16. */
    static ByteVector fifthBit(ByteVector qh, int s) {
        return (s <= 4 ? qh.lanewise(VectorOperators.LSHL, 4 - s) : qh.lanewise(VectorOperators.LSHR, s - 4)).and((byte) 0x10);
    }

    // block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d
    // half h, lane l: ql[64h+l] low/high nibble -> elements 128h+l / 128h+64+l, ql[64h+32+l] -> 128h+32+l / 128h+96+l;
    // their 2 high bits are bits 0-1 / 4-5 and 2-3 / 6-7 of qh[32h+l]; value = d * scales[e/16] * (q - 32)
    static float dotQ6K(MemorySegment w, long off, float[] x, int xo, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int b = 0; b < blocks; b++, off += 210, xo += 256) {
            float d = half(w, off + Quants.Q6K_D);
            for (int h = 0; h < 2; h++) {
                long ql = off + 64 * h;
                long qh = off + Quants.Q6K_QH + 32 * h;
                long sc = off + Quants.Q6K_SCALES + 8 * h;
                int xh = xo + 128 * h;
                for (int p = 0; p < 32; p += L) {
                    ByteVector l0 = loadBytes(w, ql + p);
                    ByteVector l32 = loadBytes(w, ql + 32 + p);
                    ByteVector hb = loadBytes(w, qh + p);
                    int g = p / 16; // the scale group of lanes p..p+L (L divides 16)
                    a0 = q6Quarter(l0.and((byte) 0xF), hb.lanewise(VectorOperators.LSHL, 4), d, w, sc + g, x, xh + p, a0);
                    a1 = q6Quarter(l32.and((byte) 0xF), hb.lanewise(VectorOperators.LSHL, 2), d, w, sc + 2 + g, x, xh + 32 + p, a1);
                    a0 = q6Quarter(l0.lanewise(VectorOperators.LSHR, 4), hb, d, w, sc + 4 + g, x, xh + 64 + p, a0);
                    a1 = q6Quarter(l32.lanewise(VectorOperators.LSHR, 4), hb.lanewise(VectorOperators.LSHR, 2), d, w, sc + 6 + g,
                            x, xh + 96 + p, a1);
                }
            }
        }
        return Simd.sum(a0.add(a1));
    }

    /** {@code acc + (d * scale) * ((low | high & 0x30) - 32) * x}: one Q6_K quarter's L lanes. */
    private static FloatVector q6Quarter(ByteVector low, ByteVector high, float d, MemorySegment w, long scaleAt,
                                         float[] x, int xi, FloatVector acc) {
        FloatVector q = bytesToFloats(low.or(high.and((byte) 0x30)).sub((byte) 32));
        return q.mul(xv(x, xi)).fma(FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, scaleAt)), acc);
    }
}
