package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;

import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * Matrix-matrix product for a batch of tokens (prompt processing): {@code out[t][r] = W[r] . x[t]}.
 * Compute bound, so the cost of decoding is amortized: a tile of up to {@link #TILE_ROWS} weight rows
 * is decoded into a float scratch, then for each group of 6 tokens a register-blocked micro-kernel
 * (4 rows x 6 tokens of accumulators, so each loaded vector feeds 4 or 6 FMAs) runs over the tile's
 * 4-row slices; the group's token rows stay in L1/L2 across the slices instead of being streamed
 * from L3 once per 4 rows. Leftover tokens go through a 4 x 3 and a 4 x 1 kernel.
 *
 * <p>Every (row, token) result is the same sequence of operations whichever micro-kernel computes
 * it, so results do not depend on tiling or on the number of threads.
 */
public final class MatMat {
    private MatMat() {
    }

    /** Weight rows decoded per tile: a multiple of {@link #SLICE_ROWS}. */
    public static final int TILE_ROWS = 16;
    /** Rows per micro-kernel call. */
    static final int SLICE_ROWS = 4;
    /** Tokens per call of the main micro-kernel (4 x 6: 24 accumulators, 4 + 1 registers of operands). */
    static final int TILE_TOKENS = 6;
    /**
     * Whether the 4 x 6 kernel runs: only with 512-bit vectors, i.e. AVX-512's 32 registers (AVX2 has
     * 16, where 29 live vectors would spill); otherwise groups of 3 tokens use the 4 x 3 kernel.
     */
    static final boolean WIDE_TILE = F.vectorBitSize() >= 512;

    /** Floats of scratch {@link #matMat} needs for rows of {@code cols} elements. */
    public static int scratchFloats(int cols) {
        return TILE_ROWS * cols;
    }

    /**
     * Rows {@code [r0, r1)} of {@code out (n, rows) = x (n, cols) . W^T}, W holding {@code rowBytes}
     * bytes per row, row {@code firstRow} at {@code w[0..]} (0 for a whole matrix; a slice starting
     * at row r0 passes r0); {@code tile} is this thread's scratch of {@link #scratchFloats}{@code (cols)} floats.
     */
    public static void matMat(GgmlType type, MemorySegment w, long rowBytes, int cols, float[] x, int n,
                              float[] out, int rows, int r0, int r1, int firstRow, float[] tile) {
        // the micro-kernels' accumulators (L lanes each), then their lane sums
        float[] lanes = new float[SLICE_ROWS * TILE_TOKENS * (L + 1)];
        for (int r = r0; r < r1; r += TILE_ROWS) {
            int tileRows = Math.min(TILE_ROWS, r1 - r);
            for (int i = 0; i < tileRows; i++) {
                Dequant.decode(type, w, (long) (r + i - firstRow) * rowBytes, tile, i * cols, cols);
            }
            // A last slice of fewer than 4 rows reads stale tile rows; their results are not stored.
            int t = 0;
            for (; WIDE_TILE && t + TILE_TOKENS <= n; t += TILE_TOKENS) {
                for (int i = 0; i < tileRows; i += SLICE_ROWS) {
                    kernel4x6(tile, i * cols, cols, x, t, out, rows, r + i, Math.min(SLICE_ROWS, tileRows - i), lanes);
                }
            }
            for (; t + 3 <= n; t += 3) {
                for (int i = 0; i < tileRows; i += SLICE_ROWS) {
                    kernel4x3(tile, i * cols, cols, x, t, out, rows, r + i, Math.min(SLICE_ROWS, tileRows - i), lanes);
                }
            }
            for (; t < n; t++) {
                for (int i = 0; i < tileRows; i += SLICE_ROWS) {
                    kernel4x1(tile, i * cols, cols, x, t, out, rows, r + i, Math.min(SLICE_ROWS, tileRows - i), lanes);
                }
            }
        }
    }

    private static FloatVector load(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    /**
     * 4 rows x 6 tokens: per step of L columns, 4 weight vectors and one token vector at a time feed
     * 24 FMAs (a 4 x 3 tile does 12 FMAs per 7 loads and stalls on them; this one runs near the FMA
     * port's limit). 24 accumulators + 5 operands fit AVX-512's 32 registers.
     */
    private static void kernel4x6(float[] w, int wo, int k, float[] x, int t, float[] out, int rows, int r, int nr,
                                  float[] lanes) {
        int x0 = t * k;
        int w1o = wo + k, w2o = wo + 2 * k, w3o = wo + 3 * k;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a04 = a00, a05 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00, a14 = a00, a15 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a24 = a00, a25 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00, a34 = a00, a35 = a00;
        int kv = k - k % L;
        for (int c = 0; c < kv; c += L) {
            FloatVector w0 = load(w, wo + c), w1 = load(w, w1o + c), w2 = load(w, w2o + c), w3 = load(w, w3o + c);
            FloatVector v = load(x, x0 + c);
            a00 = w0.fma(v, a00);
            a10 = w1.fma(v, a10);
            a20 = w2.fma(v, a20);
            a30 = w3.fma(v, a30);
            v = load(x, x0 + k + c);
            a01 = w0.fma(v, a01);
            a11 = w1.fma(v, a11);
            a21 = w2.fma(v, a21);
            a31 = w3.fma(v, a31);
            v = load(x, x0 + 2 * k + c);
            a02 = w0.fma(v, a02);
            a12 = w1.fma(v, a12);
            a22 = w2.fma(v, a22);
            a32 = w3.fma(v, a32);
            v = load(x, x0 + 3 * k + c);
            a03 = w0.fma(v, a03);
            a13 = w1.fma(v, a13);
            a23 = w2.fma(v, a23);
            a33 = w3.fma(v, a33);
            v = load(x, x0 + 4 * k + c);
            a04 = w0.fma(v, a04);
            a14 = w1.fma(v, a14);
            a24 = w2.fma(v, a24);
            a34 = w3.fma(v, a34);
            v = load(x, x0 + 5 * k + c);
            a05 = w0.fma(v, a05);
            a15 = w1.fma(v, a15);
            a25 = w2.fma(v, a25);
            a35 = w3.fma(v, a35);
        }
        // lanes: [token j][row i] blocks of L
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a20.intoArray(lanes, 2 * L);
        a30.intoArray(lanes, 3 * L);
        a01.intoArray(lanes, 4 * L);
        a11.intoArray(lanes, 5 * L);
        a21.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        a02.intoArray(lanes, 8 * L);
        a12.intoArray(lanes, 9 * L);
        a22.intoArray(lanes, 10 * L);
        a32.intoArray(lanes, 11 * L);
        a03.intoArray(lanes, 12 * L);
        a13.intoArray(lanes, 13 * L);
        a23.intoArray(lanes, 14 * L);
        a33.intoArray(lanes, 15 * L);
        a04.intoArray(lanes, 16 * L);
        a14.intoArray(lanes, 17 * L);
        a24.intoArray(lanes, 18 * L);
        a34.intoArray(lanes, 19 * L);
        a05.intoArray(lanes, 20 * L);
        a15.intoArray(lanes, 21 * L);
        a25.intoArray(lanes, 22 * L);
        a35.intoArray(lanes, 23 * L);
        reduce(lanes, 24);
        for (int j = 0; j < 6; j++) {
            store(out, rows, t + j, r, nr, k, kv, w, wo, x, lanes, 4 * j);
        }
    }

    private static void kernel4x3(float[] w, int wo, int k, float[] x, int t, float[] out, int rows, int r, int nr,
                                  float[] lanes) {
        int x0 = t * k, x1 = x0 + k, x2 = x1 + k;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00;
        int kv = k - k % L;
        for (int c = 0; c < kv; c += L) {
            FloatVector v0 = load(x, x0 + c), v1 = load(x, x1 + c), v2 = load(x, x2 + c);
            FloatVector w0 = load(w, wo + c);
            a00 = w0.fma(v0, a00);
            a01 = w0.fma(v1, a01);
            a02 = w0.fma(v2, a02);
            FloatVector w1 = load(w, wo + k + c);
            a10 = w1.fma(v0, a10);
            a11 = w1.fma(v1, a11);
            a12 = w1.fma(v2, a12);
            FloatVector w2 = load(w, wo + 2 * k + c);
            a20 = w2.fma(v0, a20);
            a21 = w2.fma(v1, a21);
            a22 = w2.fma(v2, a22);
            FloatVector w3 = load(w, wo + 3 * k + c);
            a30 = w3.fma(v0, a30);
            a31 = w3.fma(v1, a31);
            a32 = w3.fma(v2, a32);
        }
        // lanes: [token j][row i] blocks of L
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a20.intoArray(lanes, 2 * L);
        a30.intoArray(lanes, 3 * L);
        a01.intoArray(lanes, 4 * L);
        a11.intoArray(lanes, 5 * L);
        a21.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        a02.intoArray(lanes, 8 * L);
        a12.intoArray(lanes, 9 * L);
        a22.intoArray(lanes, 10 * L);
        a32.intoArray(lanes, 11 * L);
        reduce(lanes, 12);
        for (int j = 0; j < 3; j++) {
            store(out, rows, t + j, r, nr, k, kv, w, wo, x, lanes, 4 * j);
        }
    }

    private static void kernel4x1(float[] w, int wo, int k, float[] x, int t, float[] out, int rows, int r, int nr,
                                  float[] lanes) {
        int x0 = t * k;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int kv = k - k % L;
        for (int c = 0; c < kv; c += L) {
            FloatVector v0 = load(x, x0 + c);
            a0 = load(w, wo + c).fma(v0, a0);
            a1 = load(w, wo + k + c).fma(v0, a1);
            a2 = load(w, wo + 2 * k + c).fma(v0, a2);
            a3 = load(w, wo + 3 * k + c).fma(v0, a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        reduce(lanes, 4);
        store(out, rows, t, r, nr, k, kv, w, wo, x, lanes, 0);
    }

    /**
     * The lane sums of the first {@code count} accumulators in {@code lanes} ({@link Simd#sumEach}),
     * to {@code lanes[sums + i]}, where {@code sums} is past the accumulators' space.
     */
    private static void reduce(float[] lanes, int count) {
        Simd.sumEach(lanes, 0, count, lanes, lanes.length - SLICE_ROWS * TILE_TOKENS);
    }

    /**
     * Stores token t's results for the tile's first {@code nr} rows from the lane sums of rows 0..3
     * at {@code at} in the sums part of {@code lanes} (see {@link #reduce}), adding the scalar tail past {@code kv}.
     */
    private static void store(float[] out, int rows, int t, int r, int nr, int k, int kv, float[] w, int wo, float[] x,
                              float[] lanes, int at) {
        int sums = lanes.length - SLICE_ROWS * TILE_TOKENS;
        for (int i = 0; i < nr; i++) {
            out[t * rows + r + i] = finish(lanes[sums + at + i], w, wo + i * k, x, t * k, kv, k);
        }
    }

    private static float finish(float s, float[] w, int wo, float[] x, int xo, int kv, int k) {
        for (int c = kv; c < k; c++) {
            s = Math.fma(w[wo + c], x[xo + c], s);
        }
        return s;
    }
}
