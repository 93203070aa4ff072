package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.RowGroups.BW;
import static dev.spillway.cpu.kernel.RowGroups.G;
import static dev.spillway.cpu.kernel.RowGroups.Q4K_GROUP_BYTES;
import static dev.spillway.cpu.kernel.RowGroups.SW;
import static dev.spillway.cpu.kernel.Simd.LE;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2F;
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
 * The integer kernels over Q4_K weights packed in {@link RowGroups} (layout: {@code RowGroups.packQ4K}).
 *
 * <p>A Q4_K value is {@code d sc q - dmin m} with a 6-bit scale {@code sc} and min {@code m} per
 * 32-element sub-block. Each sub-block lines up with one 8-bit activation block (scale
 * {@code d_x}, values {@code q_x}), so a row's sub-block contributes
 * {@code d sc d_x sum(q q_x) - dmin m d_x sum(q_x)}: the first sum is formed as in
 * {@link PackedQ4_0} (nibble times pair of activations, 16 products per 16-bit lane, at most
 * {@code 16 * 15 * 127 = 30480}), the second is the activation block's sum, known per token. A
 * chunk's low nibbles feed sub-block 2j and its high nibbles sub-block 2j + 1, each with its own
 * 16-bit accumulator.
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ4_K {
    private PackedQ4_K() {
    }

    /** Bytes of one group's super-block. */
    static final int GROUP_BLOCK_BYTES = Q4K_GROUP_BYTES * G;

    /**
     * Rows {@code [r0, r1)} (multiples of {@link RowGroups#G}) of {@code out[outOff + r] = W[r] . x},
     * W packed by {@link RowGroups#pack}, x given by {@link RowGroups#pairs} (pairs and 8 times the
     * block sums) and its block scales {@code dx}: row {@code token} of them (0 for a single row).
     */
    public static void matVec(MemorySegment w, int cols, int[] pairs, int[] sums8, float[] dx, int token, float[] out,
                              int outOff, int r0, int r1) {
        int superBlocks = cols / Quants.QK_K;
        int xp = token * (cols / 2), xk = token * (cols / Quants.QK);
        for (int g = r0 / G; g < r1 / G; g++) {
            long a = (long) g * superBlocks * GROUP_BLOCK_BYTES;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int b = 0; b < superBlocks; b++, a += GROUP_BLOCK_BYTES) {
                // d and dmin: the half-to-float conversion (Simd) written out (a vector returned by a call C2 may not inline is boxed)
                IntVector h = (IntVector) ByteVector.fromMemorySegment(BW, w, a, LE).reinterpretAsShorts().convertShape(S2I, Simd.I, 0);
                IntVector bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector d = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                h = (IntVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G, LE).reinterpretAsShorts().convertShape(S2I, Simd.I, 0);
                bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector dmin = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                for (int j = 0; j < 4; j++) {
                    ShortVector s0 = ShortVector.zero(SW), s1 = s0;
                    int xb = xp + 128 * b + 32 * j;
                    long chunks = a + 20L * G + 32L * G * j;
                    for (int c = 0; c < 16; c++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE)
                                .convertShape(ZERO_EXTEND_B2S, SW, 0);
                        s0 = s0.add(v.and((short) 0x0F).mul(IntVector.broadcast(Simd.I, pairs[xb + c]).reinterpretAsShorts()));
                        s1 = s1.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(Simd.I, pairs[xb + 16 + c]).reinterpretAsShorts()));
                    }
                    int k0 = xk + 8 * b + 2 * j;
                    IntVector p = s0.reinterpretAsInts();
                    FloatVector t = (FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0);
                    FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 4L * G + (long) G * 2 * j, LE).convertShape(B2F, Simd.F, 0);
                    FloatVector m = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 12L * G + (long) G * 2 * j, LE).convertShape(B2F, Simd.F, 0);
                    acc = t.fma(d.mul(sc).mul(dx[k0]), acc);
                    acc = dmin.mul(m).fma(FloatVector.broadcast(Simd.F, -(dx[k0] * (sums8[k0] >> 3))), acc);
                    p = s1.reinterpretAsInts();
                    t = (FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0);
                    sc = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 4L * G + (long) G * (2 * j + 1), LE).convertShape(B2F, Simd.F, 0);
                    m = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 12L * G + (long) G * (2 * j + 1), LE).convertShape(B2F, Simd.F, 0);
                    acc = t.fma(d.mul(sc).mul(dx[k0 + 1]), acc);
                    acc = dmin.mul(m).fma(FloatVector.broadcast(Simd.F, -(dx[k0 + 1] * (sums8[k0 + 1] >> 3))), acc);
                }
            }
            acc.intoArray(out, outOff + g * G);
        }
    }

    /**
     * Rows {@code [r0, r1)} (multiples of G) of {@code out (n, rows) = x (n, cols) . W^T} for a
     * batch. Four tokens share each unpacked chunk; every (row, token) result is computed by exactly
     * the operations of {@link #matVec}, in the same order, so a batch and one token at a time give
     * the same bits.
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

    /** Tokens {@code t .. t+3} of {@link #matMat}: 8 short and 4 float accumulators, each chunk unpacked once. */
    private static void matMat4(MemorySegment w, int cols, int t, int[] pairs, int[] sums8, float[] dx, float[] out, int rows,
                                int r0, int r1) {
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
                h = (IntVector) ByteVector.fromMemorySegment(BW, w, a + 2L * G, LE).reinterpretAsShorts().convertShape(S2I, Simd.I, 0);
                bits = h.lanewise(LSHL, 13).and(0x8FFF_E000);
                FloatVector dmin = bits.reinterpretAsFloats().mul(0x1p112f)
                        .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), h.and(0x7C00).compare(EQ, 0x7C00).cast(Simd.F));
                for (int j = 0; j < 4; j++) {
                    for (int part = 0; part < 2; part++) {   // sub-block 2j (low nibbles), then 2j + 1 (high nibbles)
                        ShortVector s0 = ShortVector.zero(SW), s1 = s0, s2 = s0, s3 = s0;
                        int xb = 128 * b + 32 * j + 16 * part;
                        long chunks = a + 20L * G + 32L * G * j;
                        for (int c = 0; c < 16; c++) {
                            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE)
                                    .convertShape(ZERO_EXTEND_B2S, SW, 0);
                            ShortVector q = part == 0 ? v.and((short) 0x0F) : v.lanewise(LSHR, 4);
                            int m = xb + c;
                            s0 = s0.add(q.mul(IntVector.broadcast(Simd.I, pairs[p0 + m]).reinterpretAsShorts()));
                            s1 = s1.add(q.mul(IntVector.broadcast(Simd.I, pairs[p1 + m]).reinterpretAsShorts()));
                            s2 = s2.add(q.mul(IntVector.broadcast(Simd.I, pairs[p2 + m]).reinterpretAsShorts()));
                            s3 = s3.add(q.mul(IntVector.broadcast(Simd.I, pairs[p3 + m]).reinterpretAsShorts()));
                        }
                        int sb = 2 * j + part;
                        int k = 8 * b + sb;
                        FloatVector dsc = d.mul((FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 4L * G + (long) G * sb, LE)
                                .convertShape(B2F, Simd.F, 0));
                        FloatVector dm = dmin.mul((FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 12L * G + (long) G * sb, LE)
                                .convertShape(B2F, Simd.F, 0));
                        IntVector p = s0.reinterpretAsInts();
                        f0 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b0 + k]), f0);
                        f0 = dm.fma(FloatVector.broadcast(Simd.F, -(dx[b0 + k] * (sums8[b0 + k] >> 3))), f0);
                        p = s1.reinterpretAsInts();
                        f1 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b1 + k]), f1);
                        f1 = dm.fma(FloatVector.broadcast(Simd.F, -(dx[b1 + k] * (sums8[b1 + k] >> 3))), f1);
                        p = s2.reinterpretAsInts();
                        f2 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b2 + k]), f2);
                        f2 = dm.fma(FloatVector.broadcast(Simd.F, -(dx[b2 + k] * (sums8[b2 + k] >> 3))), f2);
                        p = s3.reinterpretAsInts();
                        f3 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b3 + k]), f3);
                        f3 = dm.fma(FloatVector.broadcast(Simd.F, -(dx[b3 + k] * (sums8[b3 + k] >> 3))), f3);
                    }
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
