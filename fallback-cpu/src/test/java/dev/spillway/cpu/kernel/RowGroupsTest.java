package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Row groups ({@link RowGroups}) for Q4_0, Q4_1, Q8_0 and the K-quants Q4_K, Q5_K and Q6_K: the packing loses nothing, and the integer kernels
 * ({@link PackedQ4_0}, {@link PackedQ4_1}, {@link PackedQ8_0}) are checked as {@link MatVecQ8Test} checks the unpacked
 * Q8_0 one, against two independent oracles:
 * <ol>
 *   <li>given the quantized activations, the integer dot products are exact: the result equals
 *       {@code sum_k d_w d_x sum_j w_j q_x} in double (w_j the block's integer weight: q - 8 for
 *       Q4_0, q for Q8_0), up to the float accumulation of the per-block terms,
 *       {@code (blocks + 8) * 2^-24 * sum_k |d_w d_x| sum_j |w_j q_x|};</li>
 *   <li>against the scalar float reference on the unquantized activations, the difference is at most
 *       {@link MatVecQ8#errorBound} (the activations' rounding) plus that term, plus the reference's
 *       own rounding, {@code (cols + 8) * 2^-24 * sum |w x|}.</li>
 * </ol>
 */
class RowGroupsTest {
    private static final int G = RowGroups.G;

    @ParameterizedTest(name = "{0} groups={1} cols={2}")
    @CsvSource({"Q4_0, 1, 32", "Q4_0, 2, 96", "Q4_0, 3, 2048", "Q4_0, 1, 5632", "Q4_1, 1, 32", "Q4_1, 2, 96", "Q4_1, 3, 2048",
        "Q8_0, 1, 32", "Q8_0, 2, 96", "Q8_0, 3, 2048"})
    void packingThenUnpackingGivesTheFileBytesBack(GgmlType type, int groups, int cols) {
        int rows = groups * G;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, type, TestData.gaussian(new Random(cols), rows * cols, 1f));
            MemorySegment packed = arena.allocate(RowGroups.bytes(type, rows, cols), 64);
            assertEquals(w.byteSize(), packed.byteSize(), "packing costs the file's bytes, no more");
            RowGroups.pack(type, w, 0, cols, packed, 0, groups);
            MemorySegment back = arena.allocate(w.byteSize());
            unpack(type, packed, cols, 0, groups, back);
            assertEquals(-1, w.mismatch(back));
            if (groups > 1) {   // one group at a time lands at the start of the destination
                MemorySegment one = arena.allocate(w.byteSize() / groups);
                unpack(type, packed, cols, 1, 2, one);
                long rowGroup = w.byteSize() / groups;
                assertEquals(-1, one.mismatch(w.asSlice(rowGroup, rowGroup)));
            }
            // the layout as documented: group 0, block 0: row r's scale at 2r (Q4_1's offset at 2G + 2r),
            // qs_r[2j + p] at 2G (j + h) + 2r + p, h the block's halves (1, or 2 for Q4_1)
            long rowBytes = type.bytesFor(cols);
            int qs = type == GgmlType.Q8_0 ? 32 : 16, h = headerHalves(type);
            for (int r = 0; r < G; r++) {
                for (int i = 0; i < h; i++) {
                    assertEquals(w.get(ValueLayout.JAVA_SHORT_UNALIGNED, r * rowBytes + 2L * i),
                            packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * G * i + 2L * r), "row " + r + " half " + i);
                }
                for (int i = 0; i < qs; i++) {
                    assertEquals(w.get(ValueLayout.JAVA_BYTE, r * rowBytes + 2L * h + i),
                            packed.get(ValueLayout.JAVA_BYTE, 2L * G * (i / 2 + h) + 2L * r + i % 2), "row " + r + " qs[" + i + "]");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} groups={1} cols={2} scale={3}")
    @CsvSource({"Q4_0, 1, 32, 1", "Q4_0, 2, 96, 1", "Q4_0, 3, 352, 1", "Q4_0, 2, 2048, 1", "Q4_0, 1, 64, 1e-3", "Q4_0, 1, 64, 300",
        "Q4_0, 1, 5632, 1", "Q8_0, 1, 32, 1", "Q8_0, 3, 352, 1", "Q8_0, 2, 2048, 1", "Q8_0, 1, 64, 1e-3", "Q8_0, 1, 64, 300",
        "Q8_0, 1, 5632, 1", "Q4_1, 1, 32, 1", "Q4_1, 3, 352, 1", "Q4_1, 2, 2048, 1", "Q4_1, 1, 64, 1e-3", "Q4_1, 1, 64, 300",
        "Q4_1, 1, 5632, 1"})
    void integerDotProductsAreExactAndWithinTheDerivedBound(GgmlType type, int groups, int cols, float scale) {
        int rows = groups * G;
        Random rnd = new Random(rows * 131L + cols);
        try (Arena arena = Arena.ofConfined()) {
            float[] wf = TestData.gaussian(rnd, rows * cols, 1f);
            MemorySegment w = TestData.unalignedNative(arena, type, wf);
            MemorySegment packed = arena.allocate(RowGroups.bytes(type, rows, cols), 64);
            RowGroups.pack(type, w, 0, cols, packed, 0, groups);
            float[] decoded = new float[rows * cols];
            Quants.dequantize(type, w, 0, decoded, 0, decoded.length);
            float[] x = TestData.gaussian(rnd, cols, scale);
            x[3] = 0;
            if (cols >= 64) {
                Arrays.fill(x, 32, 64, 0f);   // a block of zeros: d = 0
            }
            short[] qx = new short[cols];
            float[] dx = new float[cols / 32];
            MatVecQ8.quantize(x, 0, cols, qx, dx);
            int[] pairs = new int[cols / 2];
            int[] sums8 = new int[cols / 32];
            RowGroups.pairs(qx, cols, pairs, sums8, 0);
            float[] out = new float[rows + G];
            switch (type) {
                case Q4_0 -> PackedQ4_0.matVec(packed, cols, pairs, sums8, dx, 0, out, G, 0, rows);
                case Q4_1 -> PackedQ4_1.matVec(packed, cols, pairs, sums8, dx, 0, out, G, 0, rows);
                default -> PackedQ8_0.matVec(packed, cols, pairs, dx, 0, out, G, 0, rows);
            }
            long rowBytes = type.bytesFor(cols);
            int blockBytes = (int) type.bytesFor(32), h = headerHalves(type);
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double magnitude = 0;
                for (int k = 0; k < cols / 32; k++) {
                    long a = r * rowBytes + (long) blockBytes * k;
                    double dw = Float.float16ToFloat(w.get(Simd.LE_SHORT, a));
                    long dot = 0;
                    long dotAbs = 0;
                    int sumQx = 0;
                    for (int j = 0; j < 32; j++) {
                        int q;
                        if (type == GgmlType.Q8_0) {
                            q = w.get(ValueLayout.JAVA_BYTE, a + 2 + j);
                        } else {
                            int b = w.get(ValueLayout.JAVA_BYTE, a + 2L * h + j % 16) & 0xFF;
                            q = (j < 16 ? b & 0xF : b >>> 4) - (type == GgmlType.Q4_0 ? 8 : 0);
                        }
                        long p = (long) q * qx[32 * k + j];
                        dot += p;
                        dotAbs += Math.abs(p);
                        sumQx += qx[32 * k + j];
                    }
                    double blockScale = (float) (dw * dx[k]);   // the kernel scales in float, as here
                    exact += blockScale * dot;
                    magnitude += Math.abs(blockScale) * dotAbs;
                    if (type == GgmlType.Q4_1) {   // + m d_x sum(q_x), d_x sum(q_x) rounded to float as in the kernel
                        double offset = Float.float16ToFloat(w.get(Simd.LE_SHORT, a + 2)) * (double) (dx[k] * sumQx);
                        exact += offset;
                        magnitude += Math.abs(offset);
                    }
                }
                // one rounding per FMA into the row's float accumulator: one per block, two for Q4_1
                double accumulation = ((type == GgmlType.Q4_1 ? 2 : 1) * cols / 32 + 8) * 0x1p-24 * magnitude;
                assertEquals(exact, out[G + r], accumulation + Double.MIN_NORMAL, "row " + r + ": the integer dot products");

                double reference = 0;
                double sumAbs = 0;
                float[] row = Arrays.copyOfRange(decoded, r * cols, (r + 1) * cols);
                for (int c = 0; c < cols; c++) {
                    reference += (double) row[c] * x[c];
                    sumAbs += Math.abs((double) row[c] * x[c]);
                }
                double bound = MatVecQ8.errorBound(row, x, cols) + accumulation + (cols + 8) * 0x1p-24 * sumAbs;
                assertEquals(reference, out[G + r], bound, "row " + r + ": against the unquantized activations");
            }
            for (int i = 0; i < G; i++) {
                assertEquals(0f, out[i], "nothing written before outOff");
            }
        }
    }

    /** The batch kernel gives, for every token, the one-token kernel's bits (4-token blocks and the tail alike). */
    @ParameterizedTest(name = "{0} n={1}")
    @CsvSource({"Q4_0, 1", "Q4_0, 3", "Q4_0, 4", "Q4_0, 5", "Q4_0, 9", "Q4_1, 1", "Q4_1, 4", "Q4_1, 6", "Q4_1, 9", "Q8_0, 1", "Q8_0, 4",
        "Q8_0, 7", "Q8_0, 9"})
    void aBatchGivesEachTokensMatVecBitForBit(GgmlType type, int n) {
        int groups = 3, rows = groups * G, cols = 352, half = cols / 2, blocks = cols / 32;
        Random rnd = new Random(n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, type, TestData.gaussian(rnd, rows * cols, 1f));
            MemorySegment packed = arena.allocate(RowGroups.bytes(type, rows, cols), 64);
            RowGroups.pack(type, w, 0, cols, packed, 0, groups);
            float[] x = TestData.gaussian(rnd, n * cols, 2f);
            int[] pairs = new int[n * half];
            int[] sums8 = new int[n * blocks];
            float[] dx = new float[n * blocks];
            short[] q = new short[cols];
            float[] d = new float[blocks];
            float[] expected = new float[n * rows];
            for (int t = 0; t < n; t++) {
                MatVecQ8.quantize(x, t * cols, cols, q, d);
                System.arraycopy(d, 0, dx, t * blocks, blocks);
                RowGroups.pairs(q, cols, pairs, sums8, t);
                int[] onePairs = new int[half];
                int[] oneSums = new int[blocks];
                RowGroups.pairs(q, cols, onePairs, oneSums, 0);
                switch (type) {
                    case Q4_0 -> PackedQ4_0.matVec(packed, cols, onePairs, oneSums, d, 0, expected, t * rows, 0, rows);
                    case Q4_1 -> PackedQ4_1.matVec(packed, cols, onePairs, oneSums, d, 0, expected, t * rows, 0, rows);
                    default -> PackedQ8_0.matVec(packed, cols, onePairs, d, 0, expected, t * rows, 0, rows);
                }
            }
            float[] out = new float[n * rows];
            for (int[] range : new int[][] {{0, G}, {G, rows}}) {   // the first group, then the rest
                switch (type) {
                    case Q4_0 -> PackedQ4_0.matMat(packed, cols, n, pairs, sums8, dx, out, rows, range[0], range[1]);
                    case Q4_1 -> PackedQ4_1.matMat(packed, cols, n, pairs, sums8, dx, out, rows, range[0], range[1]);
                    default -> PackedQ8_0.matMat(packed, cols, n, pairs, dx, out, rows, range[0], range[1]);
                }
            }
            assertArrayEquals(expected, out);
        }
    }

    /**
     * A prompt on packed Q8_0 runs the float tile ({@link MatMat#matMatPackedQ8_0}): decoded from the
     * row groups column by column, it gives {@link MatMat#matMat}'s bits on the file's layout, for
     * every panel width (n from 2 to 49), whole tiles and a tile of one row group, and row ranges that
     * start past the first tile. Special scales (infinity, NaN, subnormal) decode as the file's do.
     */
    @ParameterizedTest(name = "n={0} groups={1} cols={2}")
    @CsvSource({"2, 1, 32", "5, 2, 96", "16, 3, 352", "17, 2, 2048", "33, 5, 160", "49, 4, 64"})
    void aQ8_0PromptOnRowGroupsGivesTheFloatTilesBits(int n, int groups, int cols) {
        int rows = groups * G;
        long rowBytes = GgmlType.Q8_0.bytesFor(cols);
        Random rnd = new Random(31L * n + cols);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = arena.allocate(rowBytes * rows);
            w.copyFrom(TestData.unalignedNative(arena, GgmlType.Q8_0, TestData.gaussian(rnd, rows * cols, 1f)));
            // special scales in the first row group: +inf, NaN and a subnormal half
            w.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0x7C00);
            w.set(ValueLayout.JAVA_SHORT_UNALIGNED, rowBytes, (short) 0x7E00);
            w.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * rowBytes + 34L * (cols / 32 - 1), (short) 0x0003);
            MemorySegment packed = arena.allocate(RowGroups.bytes(GgmlType.Q8_0, rows, cols), 64);
            RowGroups.pack(GgmlType.Q8_0, w, 0, cols, packed, 0, groups);
            float[] xt = MatMat.transposed(TestData.gaussian(rnd, n * cols, 2f), n, cols);
            float[] tile = new float[MatMat.scratchFloats(cols)];
            float[] expected = new float[n * rows];
            float[] out = new float[n * rows];
            int split = Math.min(rows, MatMat.TILE_ROWS);
            for (int[] range : new int[][] {{0, split}, {split, rows}}) {   // as the backend's row chunks: whole tiles
                MatMat.matMat(GgmlType.Q8_0, w, rowBytes, cols, xt, n, expected, rows, range[0], range[1], 0, tile);
                MatMat.matMatPackedQ8_0(packed, cols, xt, n, out, rows, range[0], range[1], tile);
            }
            assertTrue(Float.isNaN(expected[1]) && Float.isNaN(out[1]), "the NaN scale's row");
            assertArrayEquals(expected, out);   // bit for bit (JUnit compares floatToIntBits)
        }
    }

    /**
     * Q4_K and Q5_K in row groups: the layout decodes to the file's values bit for bit (d, dmin, the
     * 6-bit scales and mins, Q5_K's inverted fifth bits, the nibbles), and the integer kernel is exact given the quantized activations
     * and within the derived bound of the float reference; a batch gives each token's bits.
     */
    @ParameterizedTest(name = "{0} groups={1} cols={2} scale={3}")
    @CsvSource({"Q4_K, 1, 256, 1", "Q4_K, 2, 512, 1", "Q4_K, 1, 2048, 1", "Q4_K, 1, 256, 1e-3", "Q4_K, 1, 256, 300", "Q4_K, 1, 5632, 1",
        "Q5_K, 1, 256, 1", "Q5_K, 2, 512, 1", "Q5_K, 1, 2048, 1", "Q5_K, 1, 256, 1e-3", "Q5_K, 1, 256, 300", "Q5_K, 1, 5632, 1"})
    void kQuantRowGroupsDecodeToTheFileAndTheKernelIsExact(GgmlType type, int groups, int cols, float scale) {
        int rows = groups * G, superBlocks = cols / 256;
        Random rnd = new Random(rows * 17L + cols);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, type, TestData.gaussian(rnd, rows * cols, 1f));
            MemorySegment packed = arena.allocate(RowGroups.bytes(type, rows, cols), 64);
            boolean five = type == GgmlType.Q5_K;
            long groupBlock = (five ? 180L : 148L) * G;   // RowGroups.packQ4K, packQ5K
            assertEquals(groupBlock / G * rows * superBlocks, packed.byteSize());
            RowGroups.pack(type, w, 0, cols, packed, 0, groups);
            float[] decoded = new float[rows * cols];
            Quants.dequantize(type, w, 0, decoded, 0, decoded.length);
            // decode the packed layout as documented in RowGroups.packQ4K and packQ5K
            float[] fromPacked = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < superBlocks; b++) {
                    long o = ((long) (r / G) * superBlocks + b) * groupBlock;
                    int lane = r % G;
                    float d = Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2L * lane));
                    float dmin = Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2L * G + 2L * lane));
                    for (int e = 0; e < 256; e++) {
                        int sb = e / 32, j = e / 64, c = (e % 32) / 2, p = e % 2;
                        int sc = packed.get(ValueLayout.JAVA_BYTE, o + 4L * G + (long) G * sb + lane);
                        int m = packed.get(ValueLayout.JAVA_BYTE, o + 12L * G + (long) G * sb + lane);
                        int q = quant(packed, five, o, sb, j, c, lane, p);
                        fromPacked[r * cols + 256 * b + e] = d * sc * q - dmin * m;
                    }
                }
            }
            assertArrayEquals(decoded, fromPacked, "the packed layout holds the file's values");

            float[] x = TestData.gaussian(rnd, 2 * cols, scale);
            Arrays.fill(x, 32, 64, 0f);   // a block of zeros: d = 0
            short[] qx = new short[cols];
            float[] dx = new float[2 * cols / 32];
            int[] pairs = new int[cols];
            int[] sums8 = new int[2 * cols / 32];
            float[] d1 = new float[cols / 32];
            for (int t = 0; t < 2; t++) {
                MatVecQ8.quantize(x, t * cols, cols, qx, d1);
                System.arraycopy(d1, 0, dx, t * (cols / 32), cols / 32);
                RowGroups.pairs(qx, cols, pairs, sums8, t);
            }
            MatVecQ8.quantize(x, 0, cols, qx, d1);   // token 0 again, for the oracle
            float[] out = new float[rows + G];
            if (five) {
                PackedQ5_K.matVec(packed, cols, pairs, sums8, dx, 0, out, G, 0, rows);
            } else {
                PackedQ4_K.matVec(packed, cols, pairs, sums8, dx, 0, out, G, 0, rows);
            }
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double magnitude = 0;
                for (int b = 0; b < superBlocks; b++) {
                    long o = ((long) (r / G) * superBlocks + b) * groupBlock;
                    int lane = r % G;
                    float d = Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2L * lane));
                    float dmin = Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2L * G + 2L * lane));
                    for (int sb = 0; sb < 8; sb++) {
                        int k = 8 * b + sb;
                        int sc = packed.get(ValueLayout.JAVA_BYTE, o + 4L * G + (long) G * sb + lane);
                        int m = packed.get(ValueLayout.JAVA_BYTE, o + 12L * G + (long) G * sb + lane);
                        long dot = 0;
                        long dotAbs = 0;
                        long sumX = 0;
                        for (int l = 0; l < 32; l++) {
                            int e = 256 * b + 32 * sb + l;
                            int j = (32 * sb + l) / 64, c = l / 2;
                            int q = quant(packed, five, o, sb, j, c, lane, l % 2) - (five ? 16 : 0);   // Q5_K's kernel takes q - 16
                            dot += (long) q * qx[e];
                            dotAbs += Math.abs((long) q * qx[e]);
                            sumX += qx[e];
                        }
                        double scaleTerm = (float) ((float) (d * sc) * dx[k]);
                        // with the kernel's float roundings: - dmin m d_x sum(q_x), or for Q5_K + (16 d sc - dmin m) d_x sum(q_x)
                        double minTerm = five
                                ? (double) (float) ((float) (d * sc) * 16f - (float) (dmin * m)) * (float) (dx[k] * sumX)
                                : -(double) (float) (dmin * m) * (float) (dx[k] * sumX);
                        exact += scaleTerm * dot + minTerm;
                        magnitude += Math.abs(scaleTerm) * dotAbs + Math.abs(minTerm);
                    }
                }
                double accumulation = (2 * cols / 32 + 8) * 0x1p-24 * magnitude;
                assertEquals(exact, out[G + r], accumulation + Double.MIN_NORMAL, "row " + r + ": the integer dot products");
                double reference = 0;
                double sumAbs = 0;
                float[] row = Arrays.copyOfRange(decoded, r * cols, (r + 1) * cols);
                for (int c = 0; c < cols; c++) {
                    reference += (double) row[c] * x[c];
                    sumAbs += Math.abs((double) row[c] * x[c]);
                }
                double bound = MatVecQ8.errorBound(row, x, cols) + accumulation + (cols + 8) * 0x1p-24 * sumAbs;
                assertEquals(reference, out[G + r], bound, "row " + r + ": against the unquantized activations");
            }
            // a batch of 5 (one block of 4 tokens, one left over) gives each token's bits
            int n = 5;
            float[] xs = TestData.gaussian(rnd, n * cols, scale);
            int[] batchPairs = new int[n * cols / 2];
            int[] batchSums = new int[n * cols / 32];
            float[] batchDx = new float[n * cols / 32];
            float[] expected = new float[n * rows];
            for (int t = 0; t < n; t++) {
                MatVecQ8.quantize(xs, t * cols, cols, qx, d1);
                System.arraycopy(d1, 0, batchDx, t * (cols / 32), cols / 32);
                RowGroups.pairs(qx, cols, batchPairs, batchSums, t);
            }
            for (int t = 0; t < n; t++) {
                if (five) {
                    PackedQ5_K.matVec(packed, cols, batchPairs, batchSums, batchDx, t, expected, t * rows, 0, rows);
                } else {
                    PackedQ4_K.matVec(packed, cols, batchPairs, batchSums, batchDx, t, expected, t * rows, 0, rows);
                }
            }
            float[] batch = new float[n * rows];
            if (five) {
                PackedQ5_K.matMat(packed, cols, n, batchPairs, batchSums, batchDx, batch, rows, 0, rows);
            } else {
                PackedQ4_K.matMat(packed, cols, n, batchPairs, batchSums, batchDx, batch, rows, 0, rows);
            }
            assertArrayEquals(expected, batch);
        }
    }

    /**
     * Element (sub-block sb, chunk (j, c), lane pair p) of row lane in a Q4_K or Q5_K group block at o:
     * its nibble, and for Q5_K the fifth bit (stored inverted) above it.
     */
    private static int quant(MemorySegment packed, boolean five, long o, int sb, int j, int c, int lane, int p) {
        int q = packed.get(ValueLayout.JAVA_BYTE, o + (five ? 52L : 20L) * G + 2L * G * (16 * j + c) + 2L * lane + p) & 0xFF;
        q = sb % 2 == 0 ? q & 0xF : q >>> 4;
        if (five) {
            q |= (~packed.get(ValueLayout.JAVA_BYTE, o + 20L * G + 2L * G * c + 2L * lane + p) >>> sb & 1) << 4;
        }
        return q;
    }

    /**
     * Q6_K in row groups: the layout decodes to the file's values bit for bit (d, the int8 scales, the
     * 6-bit quants stored as {@code q - 32}), and the integer kernel is exact given the quantized
     * activations and within the derived bound of the float reference; a batch gives each token's bits.
     */
    @ParameterizedTest(name = "groups={0} cols={1} scale={2}")
    @CsvSource({"1, 256, 1", "2, 512, 1", "1, 2048, 1", "1, 256, 1e-3", "1, 256, 300", "1, 5632, 1"})
    void q6kRowGroupsDecodeToTheFileAndTheKernelIsExact(int groups, int cols, float scale) {
        int rows = groups * G, superBlocks = cols / 256;
        Random rnd = new Random(rows * 19L + cols);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, GgmlType.Q6_K, TestData.gaussian(rnd, rows * cols, 1f));
            MemorySegment packed = arena.allocate(RowGroups.bytes(GgmlType.Q6_K, rows, cols), 64);
            assertEquals(274L * rows * superBlocks, packed.byteSize());
            RowGroups.pack(GgmlType.Q6_K, w, 0, cols, packed, 0, groups);
            float[] decoded = new float[rows * cols];
            Quants.dequantize(GgmlType.Q6_K, w, 0, decoded, 0, decoded.length);
            long groupBlock = 274L * G;
            float[] fromPacked = new float[rows * cols];
            int[] quant = new int[rows * cols];       // q - 32 as packed
            float[] dsc = new float[rows * cols];     // d * scale of the element's sub-block
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < superBlocks; b++) {
                    long o = ((long) (r / G) * superBlocks + b) * groupBlock;
                    int lane = r % G;
                    float d = Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2L * lane));
                    for (int e = 0; e < 256; e++) {
                        int sc = packed.get(ValueLayout.JAVA_BYTE, o + 2L * G + (long) G * (e / 16) + lane);
                        int q = packed.get(ValueLayout.JAVA_BYTE, o + 18L * G + 2L * G * (e / 2) + 2L * lane + e % 2);
                        int i = r * cols + 256 * b + e;
                        fromPacked[i] = d * sc * q;
                        quant[i] = q;
                        dsc[i] = d * sc;
                    }
                }
            }
            assertArrayEquals(decoded, fromPacked, "the packed layout holds the file's values");

            int n = 5;
            float[] xs = TestData.gaussian(rnd, n * cols, scale);
            Arrays.fill(xs, 32, 64, 0f);   // a block of zeros: d = 0
            short[] qx = new short[cols];
            float[] d1 = new float[cols / 32];
            int[] pairs = new int[n * cols / 2];
            int[] sums8 = new int[n * cols / 32];
            float[] dx = new float[n * cols / 32];
            for (int t = 0; t < n; t++) {
                MatVecQ8.quantize(xs, t * cols, cols, qx, d1);
                System.arraycopy(d1, 0, dx, t * (cols / 32), cols / 32);
                RowGroups.pairs(qx, cols, pairs, sums8, t);
            }
            MatVecQ8.quantize(xs, 0, cols, qx, d1);   // token 0, for the oracle
            float[] out = new float[rows + G];
            PackedQ6_K.matVec(packed, cols, pairs, dx, 0, out, G, 0, rows);
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double magnitude = 0;
                for (int sb = 0; sb < cols / 16; sb++) {
                    long dot = 0;
                    long dotAbs = 0;
                    for (int l = 0; l < 16; l++) {
                        int e = 16 * sb + l;
                        dot += (long) quant[r * cols + e] * qx[e];
                        dotAbs += Math.abs((long) quant[r * cols + e] * qx[e]);
                    }
                    double blockScale = (float) (dsc[r * cols + 16 * sb] * dx[sb / 2]);
                    exact += blockScale * dot;
                    magnitude += Math.abs(blockScale) * dotAbs;
                }
                double accumulation = (cols / 16 + 8) * 0x1p-24 * magnitude;
                assertEquals(exact, out[G + r], accumulation + Double.MIN_NORMAL, "row " + r + ": the integer dot products");
                double reference = 0;
                double sumAbs = 0;
                float[] row = Arrays.copyOfRange(decoded, r * cols, (r + 1) * cols);
                for (int c = 0; c < cols; c++) {
                    reference += (double) row[c] * xs[c];
                    sumAbs += Math.abs((double) row[c] * xs[c]);
                }
                double bound = MatVecQ8.errorBound(row, Arrays.copyOf(xs, cols), cols) + accumulation + (cols + 8) * 0x1p-24 * sumAbs;
                assertEquals(reference, out[G + r], bound, "row " + r + ": against the unquantized activations");
            }
            float[] expected = new float[n * rows];
            for (int t = 0; t < n; t++) {
                PackedQ6_K.matVec(packed, cols, pairs, dx, t, expected, t * rows, 0, rows);
            }
            float[] batch = new float[n * rows];
            PackedQ6_K.matMat(packed, cols, n, pairs, dx, batch, rows, 0, rows);
            assertArrayEquals(expected, batch, "a batch gives each token's bits");
        }
    }

    @Test
    void pairsHoldTwoValuesPerIntAndEightTimesEachBlockSum() {
        short[] q = new short[64];
        for (int i = 0; i < q.length; i++) {
            q[i] = (short) ((i * 37) % 255 - 127);
        }
        int[] pairs = new int[32];
        int[] sums8 = new int[2];
        RowGroups.pairs(q, 64, pairs, sums8, 0);
        for (int m = 0; m < 32; m++) {
            assertEquals(q[2 * m], (short) pairs[m], "low half " + m);
            assertEquals(q[2 * m + 1], (short) (pairs[m] >> 16), "high half " + m);
        }
        for (int k = 0; k < 2; k++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                sum += q[32 * k + j];
            }
            assertEquals(8 * sum, sums8[k]);
        }
    }

    /** The vectorized quantization is the scalar rule bit for bit, ties and signed zeros included. */
    @Test
    void vectorQuantizationEqualsTheScalarRule() {
        Random rnd = new Random(5);
        int cols = 32 * 64;
        float[] x = TestData.gaussian(rnd, cols, 3f);
        for (int i = 0; i < 32; i++) {   // block 0: exact halves after scaling (d = 1): ties go away from zero
            x[i] = (i % 2 == 0 ? 1 : -1) * (i + 0.5f);
        }
        x[31] = 127;
        Arrays.fill(x, 32, 64, 0f);      // block 1: zeros
        x[40] = -0f;
        for (int i = 64; i < 96; i++) {  // block 2: tiny values
            x[i] = (float) (rnd.nextGaussian() * 1e-30);
        }
        short[] q1 = new short[cols], q2 = new short[cols];
        float[] d1 = new float[cols / 32], d2 = new float[cols / 32];
        MatVecQ8.quantize(x, 0, cols, q1, d1);
        MatVecQ8.quantizeScalar(x, 0, cols, q2, d2);
        assertArrayEquals(q2, q1);
        assertArrayEquals(d2, d1);
        assertEquals(1f, d1[0]);
        assertEquals(1, q1[0]);   // 0.5 -> 1
        assertEquals(-2, q1[1]);  // -1.5 -> -2
    }

    @Test
    void onlyQ4_0Q4_1Q8_0Q4_KQ5_KAndQ6_KWithWholeRowGroupsArePacked() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q8_0}) {
            assertTrue(RowGroups.packable(t, G, 32));
            assertTrue(RowGroups.packable(t, 4L * G, 2048));
            assertFalse(RowGroups.packable(t, G + 1, 32));
            assertFalse(RowGroups.packable(t, G, 48));
        }
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K}) {
            assertTrue(RowGroups.packable(t, G, 256));
            assertFalse(RowGroups.packable(t, G, 288));
            assertFalse(RowGroups.packable(t, G + 1, 256));
        }
        for (GgmlType t : GgmlType.computableTypes()) {
            if (t != GgmlType.Q4_0 && t != GgmlType.Q4_1 && t != GgmlType.Q8_0 && t != GgmlType.Q4_K && t != GgmlType.Q5_K && t != GgmlType.Q6_K) {
                assertFalse(RowGroups.packable(t, G, 256), t.toString());
            }
        }
    }

    /** Halves at the start of a block: d, and Q4_1's m. */
    private static int headerHalves(GgmlType type) {
        return type == GgmlType.Q4_1 ? 2 : 1;
    }

    /**
     * The inverse of {@link RowGroups#pack} for row groups {@code [g0, g1)}: writes them in the file's layout to
     * {@code dst[0 ..]} (row {@code g0 G} first).
     */
    private static void unpack(GgmlType type, MemorySegment packed, int cols, int g0, int g1, MemorySegment dst) {
        int blocks = cols / Quants.QK;
        int blockBytes = (int) type.bytesFor(Quants.QK), h = headerHalves(type);
        int chunks = (blockBytes - 2 * h) / 2;
        long rowBytes = (long) blocks * blockBytes;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < G; r++) {
                long s = (long) g * blocks * G * blockBytes + 2L * r;
                long o = ((long) (g - g0) * G + r) * rowBytes;
                for (int k = 0; k < blocks; k++, s += (long) G * blockBytes, o += blockBytes) {
                    for (int i = 0; i < h; i++) {
                        dst.set(Simd.LE_SHORT, o + 2L * i, packed.get(Simd.LE_SHORT, s + 2L * G * i));
                    }
                    for (int j = 0; j < chunks; j++) {
                        dst.set(Simd.LE_SHORT, o + 2L * h + 2L * j, packed.get(Simd.LE_SHORT, s + 2L * G * (j + h)));
                    }
                }
            }
        }
    }
}
