package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.RowGroups.BW;
import static dev.spillway.cpu.kernel.RowGroups.G;
import static dev.spillway.cpu.kernel.RowGroups.SW;
import static dev.spillway.cpu.kernel.Simd.LE;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.EQ;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;

import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;

/**
 * The integer kernels over Q4_1 weights packed in {@link RowGroups}: {@link PackedQ4_0}'s, with the
 * block's offset in place of Q4_0's fixed 8.
 *
 * <p>A Q4_1 value is {@code d q + m} (q an unsigned nibble), so a row's block contributes
 * {@code d d_x sum(q q_x) + m d_x sum(q_x)}: the first sum exactly as in {@link PackedQ4_0} (16
 * products per 16-bit lane, at most {@code 16 * 15 * 127 = 30480}), the second from the
 * activations' block sum, known per token ({@code sums8 / 8}). Per block: the integer sum's one
 * conversion and FMA with {@code d d_x}, and one FMA of {@code m} with {@code d_x sum(q_x)}.
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ4_1 {
    private PackedQ4_1() {
    }

    /** Bytes of one group's block: G halves of scale, G of offset, and 8 chunks of 2G bytes. */
    static final int GROUP_BLOCK_BYTES = 20 * G;

    /**
     * Rows {@code [r0, r1)} (multiples of {@link RowGroups#G}) of {@code out[outOff + r] = W[r] . x}, W packed
     * by {@link RowGroups#pack}, x given by {@link RowGroups#pairs} and its block scales {@code dx}: row {@code token}
     * of them, each holding rows of {@code cols/2} pairs and {@code cols/32} sums and scales (0 for a
     * single row).
     */
    public static void matVec(MemorySegment w, int cols, int[] pairs, int[] sums8, float[] dx, int token, float[] out,
                              int outOff, int r0, int r1) {
        int blocks = cols / Quants.QK;
        int xp = token * (cols / 2), xk = token * blocks;
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * blocks * GROUP_BLOCK_BYTES;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int k = 0; k < blocks; k++, a += GROUP_BLOCK_BYTES) {
                ShortVector s = ShortVector.zero(SW);
                int xb = xp + 16 * k;
                for (int j = 0; j < 8; j++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 2), LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s = s.add(v.and((short) 0x0F).mul(IntVector.broadcast(Simd.I, pairs[xb + j]).reinterpretAsShorts()));
                    s = s.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(Simd.I, pairs[xb + 8 + j]).reinterpretAsShorts()));
                }
                IntVector p = s.reinterpretAsInts();
                IntVector sum = p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16));
                // The G row scales: the half-to-float conversion (Simd) written out, because a call returning a vector that
                // C2 declines to inline (it did, at random, from one run to the next) boxes it.
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts()   // G halves
                        .convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                acc = ((FloatVector) sum.convert(I2F, 0)).fma(d.mul(dx[xk + k]), acc);
                h = (IntVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G, LE).reinterpretAsShorts()   // G halves: m
                        .convertShape(S2I, Simd.I, 0);
                bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector m = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                acc = m.fma(FloatVector.broadcast(Simd.F, dx[xk + k] * (sums8[xk + k] >> 3)), acc);
            }
            acc.intoArray(out, outOff + g * G);
        }
    }
    /**
     * Rows {@code [r0, r1)} (multiples of {@link RowGroups#G}) of {@code out (n, rows) = x (n, cols) . W^T}
     * for a batch: {@code pairs (n, cols/2)}, {@code sums8} and {@code dx (n, cols/32)} hold each
     * token's activations as {@link #matVec} takes them. Four tokens share each unpacked chunk; every
     * (row, token) result is computed by exactly the operations of {@link #matVec}, in the same
     * order, so a batch and one token at a time give the same bits.
     */
    public static void matMat(MemorySegment w, int cols, int n, int[] pairs, int[] sums8, float[] dx, float[] out, int rows,
                              int r0, int r1) {
        int t = 0;
        for (; t + 4 <= n; t += 4) {
            matMat4(w, cols, t, pairs, sums8, dx, out, rows, r0, r1);
        }
        for (; t < n; t++) {
            matVec(w, cols, pairs, sums8, dx, t, out, t * rows, r0, r1);
        }
    }

    /** Tokens {@code t .. t+3} of {@link #matMat}: 4 short and 4 float accumulators, each chunk unpacked once. */
    private static void matMat4(MemorySegment w, int cols, int t, int[] pairs, int[] sums8, float[] dx, float[] out, int rows,
                                int r0, int r1) {
        int blocks = cols / Quants.QK, half = cols / 2;
        int p0 = t * half, p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
        int b0 = t * blocks, b1 = b0 + blocks, b2 = b1 + blocks, b3 = b2 + blocks;
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * blocks * GROUP_BLOCK_BYTES;
            FloatVector f0 = FloatVector.zero(Simd.F), f1 = f0, f2 = f0, f3 = f0;
            for (int k = 0; k < blocks; k++, a += GROUP_BLOCK_BYTES) {
                ShortVector s0 = ShortVector.zero(SW), s1 = s0, s2 = s0, s3 = s0;
                int xb = 16 * k;
                for (int j = 0; j < 8; j++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 2), LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    ShortVector lo = v.and((short) 0x0F), hi = v.lanewise(LSHR, 4);
                    int m = xb + j;
                    s0 = s0.add(lo.mul(IntVector.broadcast(Simd.I, pairs[p0 + m]).reinterpretAsShorts()));
                    s0 = s0.add(hi.mul(IntVector.broadcast(Simd.I, pairs[p0 + m + 8]).reinterpretAsShorts()));
                    s1 = s1.add(lo.mul(IntVector.broadcast(Simd.I, pairs[p1 + m]).reinterpretAsShorts()));
                    s1 = s1.add(hi.mul(IntVector.broadcast(Simd.I, pairs[p1 + m + 8]).reinterpretAsShorts()));
                    s2 = s2.add(lo.mul(IntVector.broadcast(Simd.I, pairs[p2 + m]).reinterpretAsShorts()));
                    s2 = s2.add(hi.mul(IntVector.broadcast(Simd.I, pairs[p2 + m + 8]).reinterpretAsShorts()));
                    s3 = s3.add(lo.mul(IntVector.broadcast(Simd.I, pairs[p3 + m]).reinterpretAsShorts()));
                    s3 = s3.add(hi.mul(IntVector.broadcast(Simd.I, pairs[p3 + m + 8]).reinterpretAsShorts()));
                }
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts()   // G halves
                        .convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                h = (IntVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G, LE).reinterpretAsShorts()   // G halves: m
                        .convertShape(S2I, Simd.I, 0);
                bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector m = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                IntVector q = s0.reinterpretAsInts();
                f0 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16))
                        .convert(I2F, 0)).fma(d.mul(dx[b0 + k]), f0);
                f0 = m.fma(FloatVector.broadcast(Simd.F, dx[b0 + k] * (sums8[b0 + k] >> 3)), f0);
                q = s1.reinterpretAsInts();
                f1 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16))
                        .convert(I2F, 0)).fma(d.mul(dx[b1 + k]), f1);
                f1 = m.fma(FloatVector.broadcast(Simd.F, dx[b1 + k] * (sums8[b1 + k] >> 3)), f1);
                q = s2.reinterpretAsInts();
                f2 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16))
                        .convert(I2F, 0)).fma(d.mul(dx[b2 + k]), f2);
                f2 = m.fma(FloatVector.broadcast(Simd.F, dx[b2 + k] * (sums8[b2 + k] >> 3)), f2);
                q = s3.reinterpretAsInts();
                f3 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16))
                        .convert(I2F, 0)).fma(d.mul(dx[b3 + k]), f3);
                f3 = m.fma(FloatVector.broadcast(Simd.F, dx[b3 + k] * (sums8[b3 + k] >> 3)), f3);
            }
            int o = g * G;
            f0.intoArray(out, t * rows + o);
            f1.intoArray(out, (t + 1) * rows + o);
            f2.intoArray(out, (t + 2) * rows + o);
            f3.intoArray(out, (t + 3) * rows + o);
        }
    }
}
