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
 * The integer kernels over Q4_0 weights packed in {@link RowGroups}: one row per lane, so a lane
 * accumulates its own row's dot product and no sum ever crosses lanes.
 *
 * <p>A chunk zero-extended to 16-bit lanes holds, in lane 2r + p, two weights of row r: the low
 * nibble multiplies activation 2j + p and the high nibble activation 16 + 2j + p. The activations
 * come quantized to 8-bit blocks ({@link MatVecQ8#quantize}) and packed two per int
 * ({@link RowGroups#pairs}), so one broadcast int feeds a whole chunk. Per chunk: one widening load,
 * a mask, a shift, two 16-bit multiplies and two adds, for 4G products. A block's 16 products per
 * lane stay within 16 bits ({@code 16 * 15 * 127 = 30480}); the two lanes of a row are summed into 32
 * bits once per block, converted, and scaled by {@code d_w d_x} with one FMA. The nibbles are used
 * unsigned; the offset of 8 comes off as {@code 8 * sum(q_x)} per block.
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ4_0 {
    private PackedQ4_0() {
    }

    /** Bytes of one group's block: G halves of scale and 8 chunks of 2G bytes. */
    static final int GROUP_BLOCK_BYTES = 18 * G;

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
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 1), LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s = s.add(v.and((short) 0x0F).mul(IntVector.broadcast(Simd.I, pairs[xb + j]).reinterpretAsShorts()));
                    s = s.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(Simd.I, pairs[xb + 8 + j]).reinterpretAsShorts()));
                }
                IntVector p = s.reinterpretAsInts();
                IntVector sum = p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).sub(sums8[xk + k]);
                // The G row scales: the half-to-float conversion (Simd) written out, because a call returning a vector that
                // C2 declines to inline (it did, at random, from one run to the next) boxes it.
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts()   // G halves
                        .convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                acc = ((FloatVector) sum.convert(I2F, 0)).fma(d.mul(dx[xk + k]), acc);
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
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 1), LE)
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
                IntVector q = s0.reinterpretAsInts();
                f0 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16)).sub(sums8[b0 + k])
                        .convert(I2F, 0)).fma(d.mul(dx[b0 + k]), f0);
                q = s1.reinterpretAsInts();
                f1 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16)).sub(sums8[b1 + k])
                        .convert(I2F, 0)).fma(d.mul(dx[b1 + k]), f1);
                q = s2.reinterpretAsInts();
                f2 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16)).sub(sums8[b2 + k])
                        .convert(I2F, 0)).fma(d.mul(dx[b2 + k]), f2);
                q = s3.reinterpretAsInts();
                f3 = ((FloatVector) q.lanewise(LSHL, 16).lanewise(ASHR, 16).add(q.lanewise(ASHR, 16)).sub(sums8[b3 + k])
                        .convert(I2F, 0)).fma(d.mul(dx[b3 + k]), f3);
            }
            int o = g * G;
            f0.intoArray(out, t * rows + o);
            f1.intoArray(out, (t + 1) * rows + o);
            f2.intoArray(out, (t + 2) * rows + o);
            f3.intoArray(out, (t + 3) * rows + o);
        }
    }
}
