package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.RowGroups.BW;
import static dev.spillway.cpu.kernel.RowGroups.G;
import static dev.spillway.cpu.kernel.RowGroups.SW;
import static dev.spillway.cpu.kernel.Simd.LE;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.EQ;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2I;

import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;

/**
 * The integer kernels over Q8_0 weights packed in {@link RowGroups}: one row per lane pair, so a lane
 * accumulates its own row's dot product and no sum ever crosses lanes.
 *
 * <p>A chunk sign-extended to 16-bit lanes holds, in lane 2r + p, weight 2j + p of row r, multiplied
 * by activation 2j + p (one broadcast int of two quantized activations, {@link RowGroups#pairs}). Two
 * chunks' products add in 16 bits ({@code |sum| <= 2 * 128 * 127 = 32512}, so any int8 weight is
 * safe), then a row's two lanes are added into its 32-bit lane: per two chunks (4G products) two
 * widening loads, two multiplies, one 16-bit add and five ops into 32 bits, where {@link MatVecQ8}
 * spends about eight ops on one row's 32. Once per block the 32-bit sums are converted and scaled by
 * {@code d_w d_x} with one FMA for G rows.
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ8_0 {
    private PackedQ8_0() {
    }

    /** Bytes of one group's block: G halves of scale and 16 chunks of 2G bytes. */
    static final int GROUP_BLOCK_BYTES = 34 * G;

    /**
     * Rows {@code [r0, r1)} (multiples of {@link RowGroups#G}) of {@code out[outOff + r] = W[r] . x},
     * W packed by {@link RowGroups#pack}, x given by {@link RowGroups#pairs} and its block scales
     * {@code dx}: row {@code token} of them (rows of {@code cols/2} pairs and {@code cols/32} scales;
     * 0 for a single row).
     */
    public static void matVec(MemorySegment w, int cols, int[] pairs, float[] dx, int token, float[] out, int outOff,
                              int r0, int r1) {
        int blocks = cols / Quants.QK;
        int xp = token * (cols / 2), xk = token * blocks;
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * blocks * GROUP_BLOCK_BYTES;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int k = 0; k < blocks; k++, a += GROUP_BLOCK_BYTES) {
                IntVector t = IntVector.zero(Simd.I);
                int xb = xp + 16 * k;
                for (int j = 0; j < 16; j += 2) {
                    ShortVector s = ((ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 1), LE)
                            .convertShape(B2S, SW, 0)).mul(IntVector.broadcast(Simd.I, pairs[xb + j]).reinterpretAsShorts())
                            .add(((ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 2), LE)
                                    .convertShape(B2S, SW, 0)).mul(IntVector.broadcast(Simd.I, pairs[xb + j + 1]).reinterpretAsShorts()));
                    IntVector p = s.reinterpretAsInts();
                    t = t.add(p.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(p.lanewise(ASHR, 16));
                }
                // The G row scales: the half-to-float conversion (Simd) written out (see PackedQ4_0.matVec).
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts()   // G halves
                        .convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                acc = ((FloatVector) t.convert(I2F, 0)).fma(d.mul(dx[xk + k]), acc);
            }
            acc.intoArray(out, outOff + g * G);
        }
    }

    /**
     * Rows {@code [r0, r1)} (multiples of G) of {@code out (n, rows) = x (n, cols) . W^T} for a
     * batch ({@code pairs (n, cols/2)}, {@code dx (n, cols/32)}). Four tokens share each chunk load;
     * every (row, token) result is computed by exactly the operations of {@link #matVec}, in the same
     * order, so a batch and one token at a time give the same bits.
     */
    public static void matMat(MemorySegment w, int cols, int n, int[] pairs, float[] dx, float[] out, int rows, int r0, int r1) {
        int t = 0;
        for (; t + 4 <= n; t += 4) {
            matMat4(w, cols, t, pairs, dx, out, rows, r0, r1);
        }
        for (; t < n; t++) {
            matVec(w, cols, pairs, dx, t, out, t * rows, r0, r1);
        }
    }

    /** Tokens {@code t .. t+3} of {@link #matMat}: 4 int and 4 float accumulators, each chunk loaded once. */
    private static void matMat4(MemorySegment w, int cols, int t, int[] pairs, float[] dx, float[] out, int rows, int r0, int r1) {
        int blocks = cols / Quants.QK, half = cols / 2;
        int p0 = t * half, p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
        int b0 = t * blocks, b1 = b0 + blocks, b2 = b1 + blocks, b3 = b2 + blocks;
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * blocks * GROUP_BLOCK_BYTES;
            FloatVector f0 = FloatVector.zero(Simd.F), f1 = f0, f2 = f0, f3 = f0;
            for (int k = 0; k < blocks; k++, a += GROUP_BLOCK_BYTES) {
                IntVector t0 = IntVector.zero(Simd.I), t1 = t0, t2 = t0, t3 = t0;
                int xb = 16 * k;
                for (int j = 0; j < 16; j += 2) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 1), LE).convertShape(B2S, SW, 0);
                    ShortVector u = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G * (j + 2), LE).convertShape(B2S, SW, 0);
                    int m = xb + j;
                    IntVector q = v.mul(IntVector.broadcast(Simd.I, pairs[p0 + m]).reinterpretAsShorts())
                            .add(u.mul(IntVector.broadcast(Simd.I, pairs[p0 + m + 1]).reinterpretAsShorts())).reinterpretAsInts();
                    t0 = t0.add(q.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(q.lanewise(ASHR, 16));
                    q = v.mul(IntVector.broadcast(Simd.I, pairs[p1 + m]).reinterpretAsShorts())
                            .add(u.mul(IntVector.broadcast(Simd.I, pairs[p1 + m + 1]).reinterpretAsShorts())).reinterpretAsInts();
                    t1 = t1.add(q.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(q.lanewise(ASHR, 16));
                    q = v.mul(IntVector.broadcast(Simd.I, pairs[p2 + m]).reinterpretAsShorts())
                            .add(u.mul(IntVector.broadcast(Simd.I, pairs[p2 + m + 1]).reinterpretAsShorts())).reinterpretAsInts();
                    t2 = t2.add(q.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(q.lanewise(ASHR, 16));
                    q = v.mul(IntVector.broadcast(Simd.I, pairs[p3 + m]).reinterpretAsShorts())
                            .add(u.mul(IntVector.broadcast(Simd.I, pairs[p3 + m + 1]).reinterpretAsShorts())).reinterpretAsInts();
                    t3 = t3.add(q.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(q.lanewise(ASHR, 16));
                }
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts()   // G halves
                        .convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                f0 = ((FloatVector) t0.convert(I2F, 0)).fma(d.mul(dx[b0 + k]), f0);
                f1 = ((FloatVector) t1.convert(I2F, 0)).fma(d.mul(dx[b1 + k]), f1);
                f2 = ((FloatVector) t2.convert(I2F, 0)).fma(d.mul(dx[b2 + k]), f2);
                f3 = ((FloatVector) t3.convert(I2F, 0)).fma(d.mul(dx[b3 + k]), f3);
            }
            int o = g * G;
            f0.intoArray(out, t * rows + o);
            f1.intoArray(out, (t + 1) * rows + o);
            f2.intoArray(out, (t + 2) * rows + o);
            f3.intoArray(out, (t + 3) * rows + o);
        }
    }
}
