package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.RowGroups.BW;
import static dev.spillway.cpu.kernel.RowGroups.G;
import static dev.spillway.cpu.kernel.RowGroups.Q5K_GROUP_BYTES;
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
 * The integer kernels over Q5_K weights packed in {@link RowGroups} (layout: {@code RowGroups.packQ5K}).
 *
 * <p>A Q5_K value is {@code d sc q - dmin m}, q of 5 bits: a nibble plus a fifth bit. Products of
 * q (up to 31) with 8-bit activations would overflow 16 bits after 9 of them, so the kernel
 * multiplies {@code q - 16} (-16 to 15: 16 products per lane at most {@code 16 * 16 * 127 = 32512})
 * and adds the 16 back with the mins: a row's sub-block contributes
 * {@code d sc d_x sum((q - 16) q_x) + (16 d sc - dmin m) d_x sum(q_x)}. The packing stores the fifth
 * bits inverted, so {@code q - 16 = nibble - 16 * (inverted bit)}: per chunk and sub-block a shift,
 * a shift, a mask and a subtract more than {@link PackedQ4_K}.
 *
 * <p>Results differ from the float path by the activations' rounding only: the integer sums are exact.
 */
public final class PackedQ5_K {
    private PackedQ5_K() {
    }

    /** Bytes of one group's super-block. */
    static final int GROUP_BLOCK_BYTES = Q5K_GROUP_BYTES * G;

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
                // Chunk c's fifth bits serve all four j: c outer, one 16-bit accumulator per sub-block
                // (j outer re-read the bits per j and ran 4 times slower from DRAM than from L2).
                ShortVector s0 = ShortVector.zero(SW), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
                int xb = xp + 128 * b;
                long chunks = a + 52L * G;
                for (int c = 0; c < 16; c++) {
                    ShortVector fifth = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 20L * G + 2L * G * c, LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);   // inverted fifth bits: bit s for sub-block s
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s0 = s0.add(v.and((short) 0x0F).sub(fifth.lanewise(LSHL, 4).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + c]).reinterpretAsShorts()));
                    s1 = s1.add(v.lanewise(LSHR, 4).sub(fifth.lanewise(LSHL, 3).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 16 + c]).reinterpretAsShorts()));
                    v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 32L * G + 2L * G * c, LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s2 = s2.add(v.and((short) 0x0F).sub(fifth.lanewise(LSHL, 2).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 32 + c]).reinterpretAsShorts()));
                    s3 = s3.add(v.lanewise(LSHR, 4).sub(fifth.lanewise(LSHL, 1).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 48 + c]).reinterpretAsShorts()));
                    v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 64L * G + 2L * G * c, LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s4 = s4.add(v.and((short) 0x0F).sub(fifth.and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 64 + c]).reinterpretAsShorts()));
                    s5 = s5.add(v.lanewise(LSHR, 4).sub(fifth.lanewise(LSHR, 1).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 80 + c]).reinterpretAsShorts()));
                    v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 96L * G + 2L * G * c, LE)
                            .convertShape(ZERO_EXTEND_B2S, SW, 0);
                    s6 = s6.add(v.and((short) 0x0F).sub(fifth.lanewise(LSHR, 2).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 96 + c]).reinterpretAsShorts()));
                    s7 = s7.add(v.lanewise(LSHR, 4).sub(fifth.lanewise(LSHR, 3).and((short) 0x10))
                            .mul(IntVector.broadcast(Simd.I, pairs[xb + 112 + c]).reinterpretAsShorts()));
                }
                int k0 = xk + 8 * b;
                for (int sb = 0; sb < 8; sb++) {   // the sub-blocks' float terms in order, as matMat4
                    ShortVector ss = switch (sb) {
                        case 0 -> s0;
                        case 1 -> s1;
                        case 2 -> s2;
                        case 3 -> s3;
                        case 4 -> s4;
                        case 5 -> s5;
                        case 6 -> s6;
                        default -> s7;
                    };
                    IntVector p = ss.reinterpretAsInts();
                    FloatVector t = (FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0);
                    FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 4L * G + (long) G * sb, LE).convertShape(B2F, Simd.F, 0);
                    FloatVector m = (FloatVector) ByteVector.fromMemorySegment(Simd.B, w, a + 12L * G + (long) G * sb, LE).convertShape(B2F, Simd.F, 0);
                    FloatVector dsc = d.mul(sc);
                    acc = t.fma(dsc.mul(dx[k0 + sb]), acc);
                    acc = dsc.mul(16f).sub(dmin.mul(m)).fma(FloatVector.broadcast(Simd.F, dx[k0 + sb] * (sums8[k0 + sb] >> 3)), acc);
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

    /**
     * Tokens {@code t .. t+3} of {@link #matMat}: 4 short and 4 float accumulators; a nibble chunk is unpacked
     * once per sub-block it feeds (twice) and a chunk of fifth bits once per sub-block (8 times, from L1).
     */
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
                        long chunks = a + 52L * G + 32L * G * j;
                        for (int c = 0; c < 16; c++) {
                            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BW, w, chunks + 2L * G * c, LE)
                                    .convertShape(ZERO_EXTEND_B2S, SW, 0);
                            ShortVector fifth = (ShortVector) ByteVector.fromMemorySegment(BW, w, a + 20L * G + 2L * G * c, LE)
                                    .convertShape(ZERO_EXTEND_B2S, SW, 0).lanewise(LSHR, 2 * j + part);   // inverted fifth bit
                            ShortVector q = (part == 0 ? v.and((short) 0x0F) : v.lanewise(LSHR, 4))
                                    .sub(fifth.lanewise(LSHL, 4).and((short) 0x10));
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
                        FloatVector dm = dsc.mul(16f).sub(dmin.mul((FloatVector) ByteVector.fromMemorySegment(Simd.B, w,
                                a + 12L * G + (long) G * sb, LE).convertShape(B2F, Simd.F, 0)));   // 16 d sc - dmin m
                        IntVector p = s0.reinterpretAsInts();
                        f0 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b0 + k]), f0);
                        f0 = dm.fma(FloatVector.broadcast(Simd.F, dx[b0 + k] * (sums8[b0 + k] >> 3)), f0);
                        p = s1.reinterpretAsInts();
                        f1 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b1 + k]), f1);
                        f1 = dm.fma(FloatVector.broadcast(Simd.F, dx[b1 + k] * (sums8[b1 + k] >> 3)), f1);
                        p = s2.reinterpretAsInts();
                        f2 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b2 + k]), f2);
                        f2 = dm.fma(FloatVector.broadcast(Simd.F, dx[b2 + k] * (sums8[b2 + k] >> 3)), f2);
                        p = s3.reinterpretAsInts();
                        f3 = ((FloatVector) p.lanewise(LSHL, 16).lanewise(ASHR, 16).add(p.lanewise(ASHR, 16)).convert(I2F, 0))
                                .fma(dsc.mul(dx[b3 + k]), f3);
                        f3 = dm.fma(FloatVector.broadcast(Simd.F, dx[b3 + k] * (sums8[b3 + k] >> 3)), f3);
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
