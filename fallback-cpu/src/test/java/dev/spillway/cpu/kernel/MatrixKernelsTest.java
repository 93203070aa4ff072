package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Mat-vec and mat-mat kernels against {@link ScalarReference#matMul} (double accumulation over the
 * values {@link Quants#dequantize} gives).
 *
 * <p>Tolerance: {@code |kernel - reference| <= (cols + 8) * 2^-24 * S}, the classic worst-case bound
 * for a float dot product of {@code cols} terms: the mat-mat's FMA chain rounds once per column
 * (cols roundings, each at most 2^-24 of a partial sum bounded by S), the mat-vec's lanes fewer
 * (cols/L each, plus the lane reduction); the 8 covers the per-block scale and the decode's own
 * rounding. S is {@link TestData#errorScale}: {@code sum_c |W[r][c] * x[t][c]|},
 * plus the block-minimum terms for the types whose kernels sum those separately.
 */
class MatrixKernelsTest {

    private static final GgmlType[] TYPES = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
            GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};
    /** Batch sizes: 1 to 3 token vectors and a ragged last one (AVX-512: the 8 x 1, 8 x 2 and 8 x 3 kernels; AVX2: 8 x 1). */
    private static final int[] TOKENS = {1, 2, 3, 5, 17, 49};

    /** Column counts: one block, several (an odd count, for the two-accumulator loops), and for plain floats a ragged tail. */
    private static int[] colsFor(GgmlType type) {
        return switch (type.blockElements()) {
            case 1 -> new int[] {1, 37, 320};
            case 32 -> new int[] {32, 96, 352};
            default -> new int[] {256, 768};
        };
    }

    static Stream<Arguments> shapes() {
        List<Arguments> all = new ArrayList<>();
        for (GgmlType type : TYPES) {
            for (int cols : colsFor(type)) {
                for (int rows : new int[] {1, 7, 13}) {
                    all.add(Arguments.of(type, rows, cols));
                }
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} rows={1} cols={2}")
    @MethodSource("shapes")
    void matVecAndMatMatAgreeWithTheScalarReference(GgmlType type, int rows, int cols) {
        Random rnd = new Random(31L * rows + cols + type.id());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = TestData.unalignedNative(arena, type, TestData.gaussian(rnd, rows * cols, 1f));
            long rowBytes = type.bytesFor(cols);
            int maxN = TOKENS[TOKENS.length - 1];
            float[] x = TestData.gaussian(rnd, maxN * cols, 1f);
            float[] expected = new float[maxN * rows];
            ScalarReference.matMul(type, w, rows, cols, x, maxN, expected);

            float[] out = new float[rows + 2];
            MatVec.matVec(type, w, rowBytes, cols, x, 0, out, 1, 0, rows);
            for (int r = 0; r < rows; r++) {
                check(type, w, r, cols, x, 0, expected[r], out[1 + r], "mat-vec");
            }

            float[] tile = new float[MatMat.scratchFloats(cols)];
            for (int n : TOKENS) {
                float[] mm = new float[n * rows];
                MatMat.matMat(type, w, rowBytes, cols, MatMat.transposed(x, n, cols), n, mm, rows, 0, rows, 0, tile);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        check(type, w, r, cols, x, t, expected[t * rows + r], mm[t * rows + r], "mat-mat n=" + n);
                    }
                }
            }
        }
    }

    private static void check(GgmlType type, MemorySegment w, int r, int cols, float[] x, int t, float expected,
                              float actual, String what) {
        double bound = (cols + 8) * 0x1p-24 * TestData.errorScale(type, w, r, cols, x, t);
        double err = Math.abs((double) actual - expected);
        if (!(err <= bound)) {
            throw new AssertionError(what + " " + type + " row " + r + " token " + t + ": " + actual + " vs " + expected
                    + ", error " + err + " > " + bound);
        }
    }

    @Test
    void matMatRowRangesComposeAndMatchWholeMatrixBitForBit() {
        GgmlType type = GgmlType.Q4_K;
        int rows = 22, cols = 512, n = 40;
        Random rnd = new Random(5);
        MemorySegment w = Quants.quantize(type, TestData.gaussian(rnd, rows * cols, 1f));
        float[] x = TestData.gaussian(rnd, n * cols, 1f);
        float[] whole = new float[n * rows];
        float[] pieces = new float[n * rows];
        float[] tile = new float[MatMat.scratchFloats(cols)];
        float[] xt = MatMat.transposed(x, n, cols);
        MatMat.matMat(type, w, type.bytesFor(cols), cols, xt, n, whole, rows, 0, rows, 0, tile);
        // A different split (and a dirty tile) must give identical bits: results do not depend on tiling.
        java.util.Arrays.fill(tile, Float.NaN);
        for (int r0 : new int[] {0, 3, 10, 11, 21}) {
            int r1 = r0 == 0 ? 3 : r0 == 3 ? 10 : r0 == 10 ? 11 : r0 == 11 ? 21 : 22;
            MatMat.matMat(type, w, type.bytesFor(cols), cols, xt, n, pieces, rows, r0, r1, 0, tile);
        }
        assertArrayEquals(whole, pieces);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void matVecRowRangesComposeAndMatchWholeMatrixBitForBit(GgmlType type) {
        // Kernels pair rows and reduce them in groups: a split at odd rows (pairs shift by one) and
        // groups cut short must give identical bits.
        int rows = 41, cols = type.blockElements() == 1 ? 83 : 3 * Math.max(64, type.blockElements());
        Random rnd = new Random(type.id());
        MemorySegment w = Quants.quantize(type, TestData.gaussian(rnd, rows * cols, 1f));
        float[] x = TestData.gaussian(rnd, cols, 1f);
        long rowBytes = type.bytesFor(cols);
        float[] whole = new float[rows];
        float[] pieces = new float[rows];
        MatVec.matVec(type, w, rowBytes, cols, x, 0, whole, 0, 0, rows);
        int[] cuts = {0, 1, 4, 7, 24, 25, 40, 41};
        for (int i = 0; i + 1 < cuts.length; i++) {
            MatVec.matVec(type, w, rowBytes, cols, x, 0, pieces, 0, cuts[i], cuts[i + 1]);
        }
        assertArrayEquals(whole, pieces);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void vectorDecodeIsBitIdenticalToTheScalarCodec(GgmlType type) {
        int n = 3 * Math.max(256, type.blockElements()) + (type.quantized() ? 0 : 5);
        Random rnd = new Random(type.id());
        float[] values = TestData.gaussian(rnd, n, 3f);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = TestData.unalignedNative(arena, type, values);
            float[] expected = Quants.dequantize(type, seg, n);
            float[] actual = new float[n + 4];
            Dequant.decode(type, seg, 0, actual, 4, n);
            assertArrayEquals(expected, java.util.Arrays.copyOfRange(actual, 4, n + 4));
        }
    }

    @Test
    void halfPrecisionDecodeIsExactForEveryBitPattern() {
        MemorySegment all = MemorySegment.ofArray(new byte[2 * 65536]);
        for (int h = 0; h < 65536; h++) {
            all.set(Simd.LE_SHORT, 2L * h, (short) h);
        }
        float[] out = new float[65536];
        Dequant.decode(GgmlType.F16, all, 0, out, 0, 65536);
        for (int h = 0; h < 65536; h++) {
            float expected = Float.float16ToFloat((short) h);
            if (Float.isNaN(expected)) { // payloads may differ: the scalar intrinsic quiets signaling NaNs
                org.junit.jupiter.api.Assertions.assertTrue(Float.isNaN(out[h]), "half " + Integer.toHexString(h));
            } else {
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[h]), "half " + Integer.toHexString(h));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void sliceDecodeStartsAndEndsInsideBlocks(GgmlType type) {
        int kvDim = 128;
        float[] row = TestData.gaussian(new Random(9), kvDim, 1f);
        MemorySegment seg = Quants.quantize(type, row);
        float[] full = Quants.dequantize(type, seg, kvDim);
        KvRows rows = new KvRows(type, seg, kvDim);
        for (int[] slice : new int[][] {{0, 8}, {8, 8}, {24, 16}, {40, 40}, {120, 8}, {0, 128}}) {
            float[] buf = new float[rows.bufferFloats(slice[1])];
            int at = rows.decode(0, slice[0], slice[1], buf);
            assertArrayEquals(java.util.Arrays.copyOfRange(full, slice[0], slice[0] + slice[1]),
                    java.util.Arrays.copyOfRange(buf, at, at + slice[1]), "slice " + slice[0] + "+" + slice[1]);
        }
    }
}
