package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.RowGroups.BW;
import static dev.spillway.cpu.kernel.RowGroups.G;
import static dev.spillway.cpu.kernel.RowGroups.Q6K_GROUP_BYTES;
import static dev.spillway.cpu.kernel.RowGroups.SW;
import static dev.spillway.cpu.kernel.Simd.LE;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2F;
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
 * The integer kernels over Q6_K weights packed in {@link RowGroups} (layout: {@code RowGroups.packQ6K}:
 * each quant a signed byte {@code q - 32}).
 *
 * <p>A Q6_K value is {@code d sc (q - 32)} with an int8 scale per 16-element sub-block. A chunk
 * sign-extended to 16-bit lanes holds one weight of each row per lane, times one of a pair of
 * activations; a sub-block's 8 chunks add in 16 bits ({@code |sum| <= 8 * 32 * 127 = 32512}), then a
 * row's two lanes are summed into 32 bits, converted and scaled by {@code d sc d_x} (two sub-blocks
 * share an activation block's {@code d_x}).
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ6_K {
    private PackedQ6_K() {
    }

    /** Bytes of one group's super-block. */
    static final int GROUP_BLOCK_BYTES = Q6K_GROUP_BYTES * G;

    /**
     * Rows {@code [r0, r1)} (multiples of {@link RowGroups#G}) of {@code out[outOff + r] = W[r] . x},
     * W packed by {@link RowGroups#pack}, x given by {@link RowGroups#pairs} and its block scales
     * {@code dx}: row {@code token} of them (0 for a single row).
     */
    public static void matVec(MemorySegment w, int cols, int[] pairs, float[] dx, int token, float[] out, int outOff,
                              int r0, int r1) {
        int superBlocks = cols / Quants.QK_K;
        int xp = token * (cols / 2), xk = token * (cols / Quants.QK);
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * superBlocks * GROUP_BLOCK_BYTES;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int b = 0; b < superBlocks; b++, a += GROUP_BLOCK_BYTES) {
                // d: the half-to-float conversion (Simd) written out (a vector returned by a call C2 may not inline is boxed)
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts().convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                for (int sb = 0; sb < 16; sb++) {
                    ShortVector s = ShortVector.zero(SW);
                    int xb = xp + 128 * b + 8 * sb;
                    long chunks = a + 18L * G + 16L * G * sb;
                    for (int c = 0; c < 8; c++) {
                        s = s.add(((ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE).convertShape(B2S, SW, 0))
                                .mul(IntVector.broadcast(Simd.I, pairs[xb + c]).reinterpretAsShorts()));
                    }
                    IntVector p = s.reinterpretAsInts();
                    FloatVector t = (FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0);
                    FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 2L * G + (long) G * sb, LE)
                            .convertShape(B2F, Simd.F, 0);
                    acc = t.fma(d.mul(sc).mul(dx[xk + 8 * b + sb / 2]), acc);
                }
            }
            acc.intoArray(out, outOff + g * G);
        }
    }

    /**
     * Rows {@code [r0, r1)} (multiples of G) of {@code out (n, rows) = x (n, cols) . W^T} for a
     * batch. Four tokens share each chunk load; every (row, token) result is computed by exactly the
     * operations of {@link #matVec}, in the same order, so a batch and one token at a time give the
     * same bits.
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

    /** Tokens {@code t .. t+3} of {@link #matMat}: 4 short and 4 float accumulators, each chunk loaded once. */
    private static void matMat4(MemorySegment w, int cols, int t, int[] pairs, float[] dx, float[] out, int rows, int r0, int r1) {
        int superBlocks = cols / Quants.QK_K, half = cols / 2, blocks = cols / Quants.QK;
        int p0 = t * half, p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
        int b0 = t * blocks, b1 = b0 + blocks, b2 = b1 + blocks, b3 = b2 + blocks;
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * superBlocks * GROUP_BLOCK_BYTES;
            FloatVector f0 = FloatVector.zero(Simd.F), f1 = f0, f2 = f0, f3 = f0;
            for (int b = 0; b < superBlocks; b++, a += GROUP_BLOCK_BYTES) {
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts().convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                for (int sb = 0; sb < 16; sb++) {
                    ShortVector s0 = ShortVector.zero(SW), s1 = s0, s2 = s0, s3 = s0;
                    int xb = 128 * b + 8 * sb;
                    long chunks = a + 18L * G + 16L * G * sb;
                    for (int c = 0; c < 8; c++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE).convertShape(B2S, SW, 0);
                        int m = xb + c;
                        s0 = s0.add(v.mul(IntVector.broadcast(Simd.I, pairs[p0 + m]).reinterpretAsShorts()));
                        s1 = s1.add(v.mul(IntVector.broadcast(Simd.I, pairs[p1 + m]).reinterpretAsShorts()));
                        s2 = s2.add(v.mul(IntVector.broadcast(Simd.I, pairs[p2 + m]).reinterpretAsShorts()));
                        s3 = s3.add(v.mul(IntVector.broadcast(Simd.I, pairs[p3 + m]).reinterpretAsShorts()));
                    }
                    FloatVector dsc = d.mul((FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 2L * G + (long) G * sb, LE)
                            .convertShape(B2F, Simd.F, 0));
                    int k = 8 * b + sb / 2;
                    IntVector p = s0.reinterpretAsInts();
                    f0 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                            .fma(dsc.mul(dx[b0 + k]), f0);
                    p = s1.reinterpretAsInts();
                    f1 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                            .fma(dsc.mul(dx[b1 + k]), f1);
                    p = s2.reinterpretAsInts();
                    f2 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                            .fma(dsc.mul(dx[b2 + k]), f2);
                    p = s3.reinterpretAsInts();
                    f3 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                            .fma(dsc.mul(dx[b3 + k]), f3);
                }
            }
            int o = g * G;
            f0.intoArray(out, t * rows + o);
            f1.intoArray(out, (t + 1) * rows + o);
            f2.intoArray(out, (t + 2) * rows + o);
            f3.intoArray(out, (t + 3) * rows + o);
        }
    }
}
