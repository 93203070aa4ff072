package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The integer path ({@link MatVecQ8}) in two steps, each against an independent oracle:
 * <ol>
 *   <li>Given the quantized activations, the kernel's integer dot products are exact: the result
 *       equals {@code sum_k d_w d_x sum_j q_w q_x} computed in double, up to the float accumulation
 *       of the per-block terms, {@code (blocks + 8) * 2^-24 * sum_k |d_w d_x| sum_j |q_w q_x|}
 *       (lanes hold partial sums, so their magnitudes, not the block's sum, bound the rounding).</li>
 *   <li>Against the float reference on the unquantized activations, the difference is at most
 *       {@link MatVecQ8#errorBound} (the activations' rounding) plus that accumulation term, plus the
 *       reference's own float rounding, {@code (cols + 8) * 2^-24 * sum |w x|}.</li>
 * </ol>
 */
class MatVecQ8Test {

    @ParameterizedTest(name = "rows={0} cols={1} scale={2}")
    @CsvSource({"1, 32, 1", "7, 96, 1", "13, 352, 1", "33, 2048, 1", "5, 64, 1e-3", "5, 64, 300", "3, 5632, 1"})
    void integerDotProductsAreExactAndWithinTheDerivedBound(int rows, int cols, float scale) {
        Random rnd = new Random(rows * 131L + cols);
        try (Arena arena = Arena.ofConfined()) {
            float[] wf = TestData.gaussian(rnd, rows * cols, 1f);
            MemorySegment w = TestData.unalignedNative(arena, GgmlType.Q8_0, wf);
            float[] decoded = new float[rows * cols];
            Quants.dequantize(GgmlType.Q8_0, w, 0, decoded, 0, decoded.length);
            float[] x = TestData.gaussian(rnd, cols, scale);
            x[3] = 0;   // zeros, and a block of zeros below, keep d = 0 in the test
            if (cols >= 64) {
                java.util.Arrays.fill(x, 32, 64, 0f);
            }
            short[] qx = new short[cols];
            float[] dx = new float[cols / 32];
            MatVecQ8.quantize(x, 0, cols, qx, dx);
            float[] out = new float[rows + 1];
            MatVecQ8.matVec(GgmlType.Q8_0, w, GgmlType.Q8_0.bytesFor(cols), cols, qx, dx, out, 1, 0, rows);
            long rowBytes = GgmlType.Q8_0.bytesFor(cols);
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double magnitude = 0;
                for (int k = 0; k < cols / 32; k++) {
                    long a = r * rowBytes + 34L * k;
                    double dw = Float.float16ToFloat(w.get(Simd.LE_SHORT, a));
                    long dot = 0;
                    long dotAbs = 0;
                    for (int j = 0; j < 32; j++) {
                        long p = (long) w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, a + 2 + j) * qx[32 * k + j];
                        dot += p;
                        dotAbs += Math.abs(p);
                    }
                    double blockScale = (float) (dw * dx[k]);   // the kernel scales in float, as here
                    exact += blockScale * dot;
                    magnitude += Math.abs(blockScale) * dotAbs;
                }
                double accumulation = (cols / 32 + 8) * 0x1p-24 * magnitude;
                assertEquals(exact, out[1 + r], accumulation + Double.MIN_NORMAL, "row " + r + ": the integer dot products");

                double reference = 0;
                double sumAbs = 0;
                float[] row = java.util.Arrays.copyOfRange(decoded, r * cols, (r + 1) * cols);
                for (int c = 0; c < cols; c++) {
                    reference += (double) row[c] * x[c];
                    sumAbs += Math.abs((double) row[c] * x[c]);
                }
                double bound = MatVecQ8.errorBound(row, x, cols) + accumulation + (cols + 8) * 0x1p-24 * sumAbs;
                assertEquals(reference, out[1 + r], bound, "row " + r + ": against the unquantized activations");
            }
        }
    }

    /** llama.cpp's quantize_row_q8_0: d = max|x|/127 (to half precision), q = round half away from zero. */
    @Test
    void quantizationFollowsLlamaCpp() {
        float[] x = new float[32];
        x[0] = 127;
        x[1] = 0.5f;
        x[2] = -0.5f;
        x[3] = 2.5f;
        x[4] = -126.6f;
        x[5] = 63.49f;
        short[] q = new short[32];
        float[] d = new float[1];
        MatVecQ8.quantize(x, 0, 32, q, d);
        assertEquals(1f, d[0]);
        assertArrayEquals(new short[] {127, 1, -1, 3, -127, 63}, java.util.Arrays.copyOf(q, 6));
        float[] zeros = new float[32];
        MatVecQ8.quantize(zeros, 0, 32, q, d);
        assertEquals(0f, d[0]);
        for (short v : q) {
            assertEquals(0, v);
        }
        float[] small = new float[32];
        small[7] = 1e-3f;
        MatVecQ8.quantize(small, 0, 32, q, d);
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(1e-3f / 127)), d[0], "d rounded to half precision");
        assertEquals(127, q[7], 1, "the largest value maps to about 127 (d was rounded)");
    }

    @Test
    void onlyQ8_0HasAnIntegerKernel() {
        assertTrue(MatVecQ8.supports(GgmlType.Q8_0));
        for (GgmlType t : GgmlType.computableTypes()) {
            if (t != GgmlType.Q8_0) {
                assertFalse(MatVecQ8.supports(t), t.toString());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> MatVecQ8.matVec(GgmlType.Q4_0, MemorySegment.ofArray(new byte[18]), 18, 32,
                new short[32], new float[1], new float[1], 0, 0, 1));
    }
}
