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
 * Packed Q4_0 ({@link PackedQ4_0}): the packing loses nothing, and the integer kernel is checked as
 * {@link MatVecQ8Test} checks the Q8_0 one, against two independent oracles:
 * <ol>
 *   <li>given the quantized activations, the integer dot products are exact: the result equals
 *       {@code sum_k d_w d_x sum_j (q_w - 8) q_x} in double, up to the float accumulation of the
 *       per-block terms, {@code (blocks + 8) * 2^-24 * sum_k |d_w d_x| sum_j |(q_w - 8) q_x|};</li>
 *   <li>against the scalar float reference on the unquantized activations, the difference is at most
 *       {@link MatVecQ8#errorBound} (the activations' rounding) plus that term, plus the reference's
 *       own rounding, {@code (cols + 8) * 2^-24 * sum |w x|}.</li>
 * </ol>
 */
class PackedQ4_0Test {
    private static final int G = PackedQ4_0.G;

    @ParameterizedTest(name = "groups={0} cols={1}")
    @CsvSource({"1, 32", "2, 96", "3, 2048", "1, 5632"})
    void packingThenUnpackingGivesTheFileBytesBack(int groups, int cols) {
        int rows = groups * G;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, GgmlType.Q4_0, TestData.gaussian(new Random(cols), rows * cols, 1f));
            MemorySegment packed = arena.allocate(PackedQ4_0.bytes(rows, cols), 64);
            assertEquals(w.byteSize(), packed.byteSize(), "packing costs the file's bytes, no more");
            PackedQ4_0.pack(w, 0, cols, packed, 0, groups);
            MemorySegment back = arena.allocate(w.byteSize());
            PackedQ4_0.unpack(packed, cols, 0, groups, back);
            assertEquals(-1, w.mismatch(back));
            if (groups > 1) {   // one group at a time lands at the start of the destination
                MemorySegment one = arena.allocate(w.byteSize() / groups);
                PackedQ4_0.unpack(packed, cols, 1, 2, one);
                long rowGroup = w.byteSize() / groups;
                assertEquals(-1, one.mismatch(w.asSlice(rowGroup, rowGroup)));
            }
            // the layout as documented: group 0, block 0: row r's scale at 2r, qs_r[2j + p] at 2G (j + 1) + 2r + p
            long rowBytes = GgmlType.Q4_0.bytesFor(cols);
            for (int r = 0; r < G; r++) {
                assertEquals(w.get(ValueLayout.JAVA_SHORT_UNALIGNED, r * rowBytes), packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * r));
                for (int i = 0; i < 16; i++) {
                    assertEquals(w.get(ValueLayout.JAVA_BYTE, r * rowBytes + 2 + i),
                            packed.get(ValueLayout.JAVA_BYTE, 2L * G * (i / 2 + 1) + 2L * r + i % 2), "row " + r + " qs[" + i + "]");
                }
            }
        }
    }

    @ParameterizedTest(name = "groups={0} cols={1} scale={2}")
    @CsvSource({"1, 32, 1", "2, 96, 1", "3, 352, 1", "2, 2048, 1", "1, 64, 1e-3", "1, 64, 300", "1, 5632, 1"})
    void integerDotProductsAreExactAndWithinTheDerivedBound(int groups, int cols, float scale) {
        int rows = groups * G;
        Random rnd = new Random(rows * 131L + cols);
        try (Arena arena = Arena.ofConfined()) {
            float[] wf = TestData.gaussian(rnd, rows * cols, 1f);
            MemorySegment w = TestData.unalignedNative(arena, GgmlType.Q4_0, wf);
            MemorySegment packed = arena.allocate(PackedQ4_0.bytes(rows, cols), 64);
            PackedQ4_0.pack(w, 0, cols, packed, 0, groups);
            float[] decoded = new float[rows * cols];
            Quants.dequantize(GgmlType.Q4_0, w, 0, decoded, 0, decoded.length);
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
            PackedQ4_0.pairs(qx, cols, pairs, sums8, 0);
            float[] out = new float[rows + G];
            PackedQ4_0.matVec(packed, cols, pairs, sums8, dx, 0, out, G, 0, rows);
            long rowBytes = GgmlType.Q4_0.bytesFor(cols);
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double magnitude = 0;
                for (int k = 0; k < cols / 32; k++) {
                    long a = r * rowBytes + 18L * k;
                    double dw = Float.float16ToFloat(w.get(Simd.LE_SHORT, a));
                    long dot = 0;
                    long dotAbs = 0;
                    for (int j = 0; j < 32; j++) {
                        int b = w.get(ValueLayout.JAVA_BYTE, a + 2 + j % 16) & 0xFF;
                        int q = (j < 16 ? b & 0xF : b >>> 4) - 8;
                        long p = (long) q * qx[32 * k + j];
                        dot += p;
                        dotAbs += Math.abs(p);
                    }
                    double blockScale = (float) (dw * dx[k]);   // the kernel scales in float, as here
                    exact += blockScale * dot;
                    magnitude += Math.abs(blockScale) * dotAbs;
                }
                double accumulation = (cols / 32 + 8) * 0x1p-24 * magnitude;
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
    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "3", "4", "5", "9"})
    void aBatchGivesEachTokensMatVecBitForBit(int n) {
        int groups = 3, rows = groups * G, cols = 352, half = cols / 2, blocks = cols / 32;
        Random rnd = new Random(n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, GgmlType.Q4_0, TestData.gaussian(rnd, rows * cols, 1f));
            MemorySegment packed = arena.allocate(PackedQ4_0.bytes(rows, cols), 64);
            PackedQ4_0.pack(w, 0, cols, packed, 0, groups);
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
                PackedQ4_0.pairs(q, cols, pairs, sums8, t);
                int[] onePairs = new int[half];
                int[] oneSums = new int[blocks];
                PackedQ4_0.pairs(q, cols, onePairs, oneSums, 0);
                PackedQ4_0.matVec(packed, cols, onePairs, oneSums, d, 0, expected, t * rows, 0, rows);
            }
            float[] out = new float[n * rows];
            PackedQ4_0.matMat(packed, cols, n, pairs, sums8, dx, out, rows, 0, G);          // first group,
            PackedQ4_0.matMat(packed, cols, n, pairs, sums8, dx, out, rows, G, rows);       // then the rest
            assertArrayEquals(expected, out);
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
        PackedQ4_0.pairs(q, 64, pairs, sums8, 0);
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
    void onlyQ4_0WithWholeRowGroupsIsPacked() {
        assertTrue(PackedQ4_0.packable(GgmlType.Q4_0, G, 32));
        assertTrue(PackedQ4_0.packable(GgmlType.Q4_0, 4L * G, 2048));
        assertFalse(PackedQ4_0.packable(GgmlType.Q4_0, G + 1, 32));
        assertFalse(PackedQ4_0.packable(GgmlType.Q4_0, G, 48));
        for (GgmlType t : GgmlType.computableTypes()) {
            if (t != GgmlType.Q4_0) {
                assertFalse(PackedQ4_0.packable(t, G, 256), t.toString());
            }
        }
    }
}
