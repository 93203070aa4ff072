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
import jdk.incubator.vector.ShortVector;

/**
 * Matrix-vector product for one token: {@code out[r] = dot(W[r], x)} with W in its GGUF block
 * format. Memory-bandwidth bound, so each row is decoded straight from the (mapped, unaligned,
 * read-only) segment into vector registers, no temporary buffer. Each row keeps two accumulators
 * (alternating blocks or sub-blocks) so that consecutive FMAs do not wait on each other. (Pairing
 * rows to share the loads of x measured slower: more live registers, and x is in L1 anyway.)
 *
 * <p>Each type has one kernel method holding its row loop, block loop and vector code inline, with
 * no helper that takes or returns vectors. C2 compiles such a method as its own unit (once compiled
 * it is too big to be inlined into the switch that dispatches to it), so every Vector API call in it
 * is intrinsified and no vector is boxed; a dispatcher that inlined several types' kernels would run
 * out of inlining budget half-way through one of them. Every dot product ends in the fixed-order
 * {@link Simd#sumLanes}, so a row's result does not depend on how rows are split among threads, nor
 * on whether the code ran compiled or interpreted.
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
        if (r0 >= r1) {
            return;
        }
        switch (type) {
            case F32 -> rowsF32(w, rowBytes, cols, x, xOff, out, outOff, r0, r1);
            case F16 -> rowsF16(w, rowBytes, cols, x, xOff, out, outOff, r0, r1);
            case BF16 -> rowsBf16(w, rowBytes, cols, x, xOff, out, outOff, r0, r1);
            case Q8_0 -> rowsQ8_0(w, rowBytes, cols / Quants.QK, x, xOff, out, outOff, r0, r1);
            case Q4_0 -> rowsQ4_0(w, rowBytes, cols / Quants.QK, x, xOff, out, outOff, r0, r1);
            case Q4_1 -> rowsQ4_1(w, rowBytes, cols / Quants.QK, x, xOff, out, outOff, r0, r1);
            case Q4_K -> rowsQ45K(false, w, rowBytes, cols / Quants.QK_K, x, xOff, out, outOff, r0, r1);
            case Q5_K -> rowsQ45K(true, w, rowBytes, cols / Quants.QK_K, x, xOff, out, outOff, r0, r1);
            case Q6_K -> rowsQ6K(w, rowBytes, cols / Quants.QK_K, x, xOff, out, outOff, r0, r1);
            default -> throw new IllegalArgumentException("no mat-vec kernel for " + type);
        }
    }

    // ---- plain floats: two accumulators over alternating vectors, a scalar tail for cols % L ----
    // Three near-copies on purpose: one method with a per-vector type test measured 10-20% slower.

    static void rowsF32(MemorySegment w, long rowBytes, int n, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[L];
        int n2 = n - n % (2 * L);
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            int i = 0;
            for (; i < n2; i += 2 * L) {
                acc0 = Simd.loadFloats(w, a + 4L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
                acc1 = Simd.loadFloats(w, a + 4L * (i + L)).fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
            }
            for (; i + L <= n; i += L) {
                acc0 = Simd.loadFloats(w, a + 4L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, lanes, 0);
            float s = lanes[0];
            for (; i < n; i++) {
                s = Math.fma(w.get(Simd.LE_FLOAT, a + 4L * i), x[xo + i], s);
            }
            out[oo + r] = s;
        }
    }

    static void rowsF16(MemorySegment w, long rowBytes, int n, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[L];
        int n2 = n - n % (2 * L);
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            int i = 0;
            // the half-to-float conversion (Simd) written out: called, C2 at times left it out of line (a cold call site
            // when it compiled) and boxed every vector (measured in Dequant: an F16 prompt 8 times slower).
            for (; i < n2; i += 2 * L) {
                IntVector w0h = (IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * i, LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0);
                IntVector w0b = w0h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector w0 = w0b.reinterpretAsFloats().mul(0x1p112f)
                        .blend(w0b.or(0x7F80_0000).reinterpretAsFloats(), w0h.and(0x7C00).compare(EQ, 0x7C00).cast(F));
                IntVector w1h = (IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * (i + L), LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0);
                IntVector w1b = w1h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector w1 = w1b.reinterpretAsFloats().mul(0x1p112f)
                        .blend(w1b.or(0x7F80_0000).reinterpretAsFloats(), w1h.and(0x7C00).compare(EQ, 0x7C00).cast(F));
                acc0 = w0.fma(FloatVector.fromArray(F, x, xo + i), acc0);
                acc1 = w1.fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
            }
            for (; i + L <= n; i += L) {
                IntVector w0h = (IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * i, LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0);
                IntVector w0b = w0h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector w0 = w0b.reinterpretAsFloats().mul(0x1p112f)
                        .blend(w0b.or(0x7F80_0000).reinterpretAsFloats(), w0h.and(0x7C00).compare(EQ, 0x7C00).cast(F));
                acc0 = w0.fma(FloatVector.fromArray(F, x, xo + i), acc0);
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, lanes, 0);
            float s = lanes[0];
            for (; i < n; i++) {
                s = Math.fma(half(w, a + 2L * i), x[xo + i], s);
            }
            out[oo + r] = s;
        }
    }

    static void rowsBf16(MemorySegment w, long rowBytes, int n, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[L];
        int n2 = n - n % (2 * L);
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            int i = 0;
            for (; i < n2; i += 2 * L) {   // bfloat16 to float written out, as in rowsF16
                acc0 = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * i, LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0)).lanewise(LSHL, 16).reinterpretAsFloats())
                        .fma(FloatVector.fromArray(F, x, xo + i), acc0);
                acc1 = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * (i + L), LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0)).lanewise(LSHL, 16).reinterpretAsFloats())
                        .fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
            }
            for (; i + L <= n; i += L) {
                acc0 = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(Simd.S_BYTES, w, a + 2L * i, LE).reinterpretAsShorts()
                        .convertShape(S2I, Simd.I, 0)).lanewise(LSHL, 16).reinterpretAsFloats())
                        .fma(FloatVector.fromArray(F, x, xo + i), acc0);
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, lanes, 0);
            float s = lanes[0];
            for (; i < n; i++) {
                s = Math.fma(Quants.bf16ToFloat(w.get(Simd.LE_SHORT, a + 2L * i)), x[xo + i], s);
            }
            out[oo + r] = s;
        }
    }

    // ---- 32-element blocks: one row at a time, two accumulators over alternating blocks -------

    // block_q8_0: ggml_half d; int8_t qs[32]. Per block: s = sum q*x, then acc += s * d.
    static void rowsQ8_0(MemorySegment w, long rowBytes, int blocks, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[2 * L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 34) {
                int xb = xo + 32 * k;
                FloatVector s = FloatVector.zero(F);
                for (int p = 0; p < 32; p += L) {
                    s = ((FloatVector) ByteVector.fromMemorySegment(B, w, a + 2 + p, LE).convertShape(B2F, F, 0))
                            .fma(FloatVector.fromArray(F, x, xb + p), s);
                }
                if ((k & 1) == 0) {
                    acc0 = s.fma(FloatVector.broadcast(F, half(w, a)), acc0);
                } else {
                    acc1 = s.fma(FloatVector.broadcast(F, half(w, a)), acc1);
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    // block_q4_0: ggml_half d; uint8_t qs[16]; element j: low nibble of qs[j], element 16+j: high
    // nibble; value = (nibble - 8) * d. Per block: s = sum (nibble - 8) * x, then acc += s * d.
    static void rowsQ4_0(MemorySegment w, long rowBytes, int blocks, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[2 * L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 18) {
                int xb = xo + 32 * k;
                FloatVector s = FloatVector.zero(F);
                for (int p = 0; p < 16; p += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, a + 2 + p, LE);
                    s = ((FloatVector) q.and((byte) 0xF).sub((byte) 8).convertShape(B2F, F, 0))
                            .fma(FloatVector.fromArray(F, x, xb + p), s);
                    s = ((FloatVector) highNibbles(q).sub((byte) 8).convertShape(B2F, F, 0))
                            .fma(FloatVector.fromArray(F, x, xb + 16 + p), s);
                }
                if ((k & 1) == 0) {
                    acc0 = s.fma(FloatVector.broadcast(F, half(w, a)), acc0);
                } else {
                    acc1 = s.fma(FloatVector.broadcast(F, half(w, a)), acc1);
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    // block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]; value = nibble * d + m, formed per lane.
    static void rowsQ4_1(MemorySegment w, long rowBytes, int blocks, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[2 * L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 20) {
                int xb = xo + 32 * k;
                FloatVector d = FloatVector.broadcast(F, half(w, a)), m = FloatVector.broadcast(F, half(w, a + 2));
                for (int p = 0; p < 16; p += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, a + 4 + p, LE);
                    acc0 = ((FloatVector) q.and((byte) 0xF).convertShape(B2F, F, 0)).fma(d, m)
                            .fma(FloatVector.fromArray(F, x, xb + p), acc0);
                    acc1 = ((FloatVector) highNibbles(q).convertShape(B2F, F, 0)).fma(d, m)
                            .fma(FloatVector.fromArray(F, x, xb + 16 + p), acc1);
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    // ---- K-quants: 256-element super-blocks --------------------------------------------------
    // Bit fields are extracted with 16-bit shifts (x86 has no byte shift) and a per-byte mask; every
    // shift below is small enough that no bit crosses into the masked field from the other byte.

    // block_q4_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]
    // block_q5_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]
    // qs[32j + l]: low nibble = element 64j + l (sub-block 2j), high nibble = element 64j + 32 + l (2j+1);
    // Q5_K: bit s of qh[l] is the 5th bit (value 16) of element 32s + l. value = d*sc*q - dmin*m,
    // formed per lane (one FMA) and multiplied into the accumulator. One row at a time, with two
    // accumulators (even and odd sub-blocks).
    static void rowsQ45K(boolean five, MemorySegment w, long rowBytes, int blocks, float[] x, int xo, float[] out, int oo,
                         int r0, int r1) {
        int blockBytes = five ? 176 : 144;
        int qs = five ? Quants.Q5K_QS : Quants.Q4K_QS;
        float[] lanes = new float[2 * L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += blockBytes) {
                float d = half(w, a), dmin = half(w, a + 2);
                long lo = w.get(Simd.LE_LONG, a + Quants.K_SCALES);
                int hi = w.get(Simd.LE_INT, a + Quants.K_SCALES + 8);
                long scales = Simd.k4Scales(lo, hi), mins = Simd.k4Mins(lo, hi);
                for (int j = 0; j < 4; j++) { // sub-blocks 2j (low nibbles) and 2j+1 (high nibbles)
                    int x0 = xo + 256 * k + 64 * j;
                    FloatVector sc0 = FloatVector.broadcast(F, d * Simd.k4Byte(scales, 2 * j));
                    FloatVector mn0 = FloatVector.broadcast(F, -(dmin * Simd.k4Byte(mins, 2 * j)));
                    FloatVector sc1 = FloatVector.broadcast(F, d * Simd.k4Byte(scales, 2 * j + 1));
                    FloatVector mn1 = FloatVector.broadcast(F, -(dmin * Simd.k4Byte(mins, 2 * j + 1)));
                    for (int p = 0; p < 32; p += L) {
                        ByteVector q = ByteVector.fromMemorySegment(B, w, a + qs + 32 * j + p, LE);
                        ByteVector q0 = q.and((byte) 0xF), q1 = highNibbles(q);
                        if (five) { // ((qh >> s) & 1) << 4 for s = 2j, 2j+1
                            ShortVector h = ByteVector.fromMemorySegment(B, w, a + Quants.Q5K_QH + p, LE).reinterpretAsShorts();
                            q0 = q0.or(h.lanewise(LSHR, 2 * j).lanewise(LSHL, 4).reinterpretAsBytes().and((byte) 0x10));
                            q1 = q1.or(h.lanewise(LSHR, 2 * j + 1).lanewise(LSHL, 4).reinterpretAsBytes().and((byte) 0x10));
                        }
                        acc0 = ((FloatVector) q0.convertShape(B2F, F, 0)).fma(sc0, mn0).fma(FloatVector.fromArray(F, x, x0 + p), acc0);
                        acc1 = ((FloatVector) q1.convertShape(B2F, F, 0)).fma(sc1, mn1).fma(FloatVector.fromArray(F, x, x0 + 32 + p), acc1);
                    }
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    // block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d
    // Half h, lane l (0..31): ql[64h + l] holds elements 128h + l (low nibble) and 128h + 64 + l
    // (high nibble); ql[64h + 32 + l] holds 128h + 32 + l and 128h + 96 + l; their high 2 bits are
    // bits 0-1, 4-5, 2-3, 6-7 of qh[32h + l]. value = d * scales[e/16] * (q - 32).
    // Per group of L lanes (one scale): acc += ((q - 32) * x) * (d*scale). One row at a time.
    static void rowsQ6K(MemorySegment w, long rowBytes, int blocks, float[] x, int xo, float[] out, int oo, int r0, int r1) {
        float[] lanes = new float[2 * L];
        for (int r = r0; r < r1; r++) {
            long a = r * rowBytes;
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
            for (int k = 0; k < blocks; k++, a += 210) {
                float d = half(w, a + Quants.Q6K_D);
                for (int h = 0; h < 2; h++) {
                    long sc = a + Quants.Q6K_SCALES + 8 * h;
                    int xh = xo + 256 * k + 128 * h;
                    for (int p = 0; p < 32; p += L) {
                        ShortVector l0 = ByteVector.fromMemorySegment(B, w, a + 64 * h + p, LE).reinterpretAsShorts();
                        ShortVector l32 = ByteVector.fromMemorySegment(B, w, a + 64 * h + 32 + p, LE).reinterpretAsShorts();
                        ShortVector hb = ByteVector.fromMemorySegment(B, w, a + Quants.Q6K_QH + 32 * h + p, LE).reinterpretAsShorts();
                        ByteVector q0 = l0.reinterpretAsBytes().and((byte) 0xF).or(hb.lanewise(LSHL, 4).reinterpretAsBytes().and((byte) 0x30));
                        ByteVector q1 = l32.reinterpretAsBytes().and((byte) 0xF).or(hb.lanewise(LSHL, 2).reinterpretAsBytes().and((byte) 0x30));
                        ByteVector q2 = l0.lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0xF).or(hb.reinterpretAsBytes().and((byte) 0x30));
                        ByteVector q3 = l32.lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0xF).or(hb.lanewise(LSHR, 2).reinterpretAsBytes().and((byte) 0x30));
                        int g = p / 16;
                        acc0 = ((FloatVector) q0.sub((byte) 32).convertShape(B2F, F, 0)).mul(FloatVector.fromArray(F, x, xh + p))
                                .fma(FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + g)), acc0);
                        acc1 = ((FloatVector) q1.sub((byte) 32).convertShape(B2F, F, 0)).mul(FloatVector.fromArray(F, x, xh + 32 + p))
                                .fma(FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + 2 + g)), acc1);
                        acc0 = ((FloatVector) q2.sub((byte) 32).convertShape(B2F, F, 0)).mul(FloatVector.fromArray(F, x, xh + 64 + p))
                                .fma(FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + 4 + g)), acc0);
                        acc1 = ((FloatVector) q3.sub((byte) 32).convertShape(B2F, F, 0)).mul(FloatVector.fromArray(F, x, xh + 96 + p))
                                .fma(FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + 6 + g)), acc1);
                    }
                }
            }
            acc0.add(acc1).intoArray(lanes, 0);
            Simd.sumEach(lanes, 0, 1, out, oo + r);
        }
    }

    /**
     * {@code (b >>> 4) & 0xF} per byte, shifting 16-bit lanes (one instruction; byte shifts are
     * emulated on x86). Small and called in hot loops only, so the JIT always inlines it.
     */
    static ByteVector highNibbles(ByteVector b) {
        return b.reinterpretAsShorts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0xF);
    }
}
