package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Matrix-matrix product for a batch of tokens (prompt processing): {@code out[t][r] = W[r] . x[t]},
 * as outer products with the tokens in the lanes.
 *
 * <p>The batch is first transposed once per product ({@link #transpose}: {@code xt[c][t]}, the
 * tokens padded with zeros to whole vectors of {@link Simd#L}), so that one vector load gives
 * column c of L tokens. A tile of up to {@link #TILE_ROWS} weight rows is decoded into a float
 * scratch; then for each 8-row slice and each group of up to 3 token vectors a register-blocked
 * micro-kernel walks the columns: per column, 3 token vectors are loaded and each of the 8 weights
 * is broadcast once, for 24 FMAs into 24 accumulators (on AVX-512: 28 of its 32 registers; AVX2,
 * with 16, runs one token vector at a time). Nothing is summed across lanes, so no reduction and no
 * column tail: each lane is one (row, token) result.
 *
 * <p>Measured on this project's AVX-512 machine (fallback-cpu/README.md): the outer-product kernel
 * runs at 96 % of the FMA peak in L1, where the earlier dot-product tile (4 rows x 6 tokens, lanes
 * along the columns, a reduction per result) reached 65 %.
 *
 * <p>Every (row, token) result is one FMA chain over the columns in order,
 * {@code acc = fma(W[r][c], x[t][c], acc)} from {@code acc = 0}, whichever micro-kernel, tile,
 * thread or batch size (of two or more) computes it: results depend on nothing but the row and the
 * token. (One token alone goes through {@link MatVec} in the backend, whose lanes sum in another order.)
 */
public final class MatMat {
    private MatMat() {
    }

    /** Weight rows decoded per tile: a multiple of {@link #SLICE_ROWS}. */
    public static final int TILE_ROWS = 16;
    /** Rows per micro-kernel call. */
    static final int SLICE_ROWS = 8;
    /** The most token vectors per micro-kernel call. */
    private static final int MAX_VECTORS = 3;
    /**
     * Whether the 8 x 3 and 8 x 2 kernels run: only with 512-bit vectors, i.e. AVX-512's 32
     * registers (AVX2 has 16, where 28 live vectors would spill); otherwise 8 x 1.
     */
    static final boolean WIDE_TILE = F.vectorBitSize() >= 512;

    /** Columns per block: 128 x 3 vectors of 16 floats is 24 KiB of the panel, half of L1. */
    static final int BLOCK_COLS = 128;

    /** Floats of per-thread scratch {@link #matMat} needs for rows of {@code cols} elements: the tile and the accumulators. */
    public static int scratchFloats(int cols) {
        return TILE_ROWS * cols + TILE_ROWS * MAX_VECTORS * L;
    }

    /** {@code n} rounded up to whole vectors of {@link Simd#L} tokens. */
    public static int paddedTokens(int n) {
        return (n + L - 1) / L * L;
    }

    /** Floats of the transposed batch {@link #transpose} writes: {@code cols} columns of {@link #paddedTokens}{@code (n)}. */
    public static long transposedFloats(int n, int cols) {
        return (long) paddedTokens(n) * cols;
    }

    /** Token vectors per panel: those of the widest kernel. */
    static final int PANEL_VECTORS = WIDE_TILE ? 3 : 1;

    /**
     * The batch {@code x (n, cols)} as {@link #matMat} reads it, into {@code xt}: transposed, in
     * panels of {@link #PANEL_VECTORS} token vectors (the last panel may hold fewer), each panel
     * {@code (cols, its tokens)} so that a kernel streams it in order; tokens past n are zero:
     * <pre>
     *   P = PANEL_VECTORS L tokens per panel (3L with AVX-512, L otherwise); panel p holds tokens Pp ..:
     *   xt[P cols p + c (vectors_p L) + i] = x[Pp + i][c]
     * </pre>
     */
    public static void transpose(float[] x, int n, int cols, float[] xt) {
        int vectors = paddedTokens(n) / L;
        for (int v0 = 0; v0 < vectors; v0 += PANEL_VECTORS) {
            int width = Math.min(PANEL_VECTORS, vectors - v0) * L;   // the panel's tokens, padding included
            int base = v0 * L * cols, t0 = v0 * L, real = Math.min(width, n - t0);
            // 16 x 16 blocks: the 16 rows read stay in L1 while 16 columns are written.
            for (int i0 = 0; i0 < real; i0 += 16) {
                int i1 = Math.min(real, i0 + 16);
                for (int c0 = 0; c0 < cols; c0 += 16) {
                    int c1 = Math.min(cols, c0 + 16);
                    for (int i = i0; i < i1; i++) {
                        for (int c = c0, xo = (t0 + i) * cols; c < c1; c++) {
                            xt[base + c * width + i] = x[xo + c];
                        }
                    }
                }
            }
            if (real < width) {
                for (int c = 0; c < cols; c++) {
                    Arrays.fill(xt, base + c * width + real, base + (c + 1) * width, 0f);
                }
            }
        }
    }

    /** {@link #transpose} into a new array (tests and benchmarks). */
    public static float[] transposed(float[] x, int n, int cols) {
        float[] xt = new float[Math.toIntExact(transposedFloats(n, cols))];
        transpose(x, n, cols, xt);
        return xt;
    }

    /**
     * Rows {@code [r0, r1)} of {@code out (n, rows) = x (n, cols) . W^T}, x given by {@link #transpose},
     * W holding {@code rowBytes} bytes per row, row {@code firstRow} at {@code w[0..]} (0 for a whole
     * matrix; a slice starting at row r0 passes r0); {@code tile} is this thread's scratch of
     * {@link #scratchFloats}{@code (cols)} floats.
     */
    public static void matMat(GgmlType type, MemorySegment w, long rowBytes, int cols, float[] xt, int n,
                              float[] out, int rows, int r0, int r1, int firstRow, float[] tile) {
        for (int r = r0; r < r1; r += TILE_ROWS) {
            int tileRows = Math.min(TILE_ROWS, r1 - r);
            for (int i = 0; i < tileRows; i++) {
                Dequant.decode(type, w, (long) (r + i - firstRow) * rowBytes, tile, i * cols, cols);
            }
            multiplyTile(tile, false, tileRows, cols, xt, n, out, rows, r);
        }
    }

    /**
     * {@link #matMat} for Q8_0 weights packed in {@link RowGroups} (a prompt on the default, repacked
     * path): each tile is decoded from the row groups column by column ({@code tile[c TILE_ROWS + i]},
     * {@link Dequant#q8_0GroupBlock}) with the values {@link Dequant#decode} gives for the file's
     * layout, and multiplied by the same kernels, so the results are bit for bit those of
     * {@link #matMat} on the unpacked weights. Rows {@code [r0, r1)} are whole row groups.
     */
    public static void matMatPackedQ8_0(MemorySegment packed, int cols, float[] xt, int n, float[] out, int rows,
                                        int r0, int r1, float[] tile) {
        int blocks = cols / Quants.QK;
        for (int r = r0; r < r1; r += TILE_ROWS) {
            int tileRows = Math.min(TILE_ROWS, r1 - r);
            for (int i = 0; i < tileRows; i += RowGroups.G) {
                long group = (long) (r + i) / RowGroups.G * blocks * PackedQ8_0.GROUP_BLOCK_BYTES;
                for (int k = 0; k < blocks; k++) {
                    Dequant.q8_0GroupBlock(packed, group + (long) k * PackedQ8_0.GROUP_BLOCK_BYTES, tile,
                            Quants.QK * k * TILE_ROWS + i, TILE_ROWS);
                }
            }
            multiplyTile(tile, true, tileRows, cols, xt, n, out, rows, r);
        }
    }

    /**
     * Output rows {@code [r, r + tileRows)} from a decoded tile whose element (row i, column c) is
     * {@code tile[i cols + c]} (row-major) or {@code tile[c TILE_ROWS + i]} (column-major, whole slices
     * only). Each layout has its own kernels: one kernel taking the strides as arguments made F16
     * prompts 15 to 35 % slower (the weight index is then no longer a constant-stride function of the
     * loop variable, so C2 keeps its checks).
     */
    private static void multiplyTile(float[] tile, boolean columnMajor, int tileRows, int cols, float[] xt, int n,
                                     float[] out, int rows, int r) {
        int vectors = paddedTokens(n) / L;
        int acc = TILE_ROWS * cols;   // the accumulators, past the tile: (tile row, token vector) at (3 row + vector) L
        int slices = tileRows / SLICE_ROWS * SLICE_ROWS;
        assert !columnMajor || slices == tileRows : "column-major tiles hold whole row groups, so whole slices";
        for (int v = 0; v < vectors; v += PANEL_VECTORS) {
            int count = Math.min(PANEL_VECTORS, vectors - v), stride = count * L, base = v * L * cols;
            Arrays.fill(tile, acc, acc + tileRows * MAX_VECTORS * L, 0f);
            // Columns in blocks: a block of the panel (BLOCK_COLS x 3L floats) stays in L1 while
            // every row of the tile passes over it; the accumulators wait in memory in between.
            for (int c0 = 0; c0 < cols; c0 += BLOCK_COLS) {
                int c1 = Math.min(cols, c0 + BLOCK_COLS);
                for (int i = 0; i < slices; i += SLICE_ROWS) {
                    int at = acc + i * MAX_VECTORS * L;
                    if (columnMajor) {
                        switch (count) {
                            case 3 -> ColumnTileKernels.kernel8x3(tile, i, c0, c1, xt, base, stride, tile, at);
                            case 2 -> ColumnTileKernels.kernel8x2(tile, i, c0, c1, xt, base, stride, tile, at);
                            default -> ColumnTileKernels.kernel8x1(tile, i, c0, c1, xt, base, stride, tile, at);
                        }
                    } else {
                        switch (count) {
                            case 3 -> kernel8x3(tile, i * cols, cols, c0, c1, xt, base, stride, tile, at);
                            case 2 -> kernel8x2(tile, i * cols, cols, c0, c1, xt, base, stride, tile, at);
                            default -> kernel8x1(tile, i * cols, cols, c0, c1, xt, base, stride, tile, at);
                        }
                    }
                }
                for (int i = slices; i < tileRows; i++) {   // fewer rows than a slice (row-major tiles only): one at a time
                    for (int j = 0; j < count; j++) {
                        kernel1x1(tile, i * cols, c0, c1, xt, base + j * L, stride, tile, acc + (i * MAX_VECTORS + j) * L);
                    }
                }
            }
            for (int i = 0; i < tileRows; i++) {
                for (int j = 0; j < count; j++) {
                    int t = (v + j) * L, from = acc + (i * MAX_VECTORS + j) * L;
                    for (int l = 0, end = Math.min(L, n - t); l < end; l++) {
                        out[(t + l) * rows + r + i] = tile[from + l];
                    }
                }
            }
        }
    }

    /** One row x one token vector, columns {@code [c0, c1)}: the same FMA chain per lane as the wide kernels. */
    private static void kernel1x1(float[] w, int wo, int c0, int c1, float[] xt, int xo0, int stride, float[] acc, int at) {
        FloatVector a = FloatVector.fromArray(F, acc, at);
        for (int c = c0, xo = xo0 + c0 * stride; c < c1; c++, xo += stride) {
            a = FloatVector.broadcast(F, w[wo + c]).fma(FloatVector.fromArray(F, xt, xo), a);
        }
        a.intoArray(acc, at);
    }

    /** 8 rows x 3 token vectors: 24 accumulators, 3 token vectors and a broadcast (28 registers). */
    private static void kernel8x3(float[] w, int wo, int k, int c0, int c1, float[] xt, int xo0, int stride, float[] acc,
                                  int at) {
        int w1 = wo + k, w2 = wo + 2 * k, w3 = wo + 3 * k, w4 = wo + 4 * k, w5 = wo + 5 * k, w6 = wo + 6 * k, w7 = wo + 7 * k;
        FloatVector a00 = FloatVector.fromArray(F, acc, at), a01 = FloatVector.fromArray(F, acc, at + 1 * L), a02 = FloatVector.fromArray(F, acc, at + 2 * L);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L), a11 = FloatVector.fromArray(F, acc, at + 4 * L), a12 = FloatVector.fromArray(F, acc, at + 5 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L), a21 = FloatVector.fromArray(F, acc, at + 7 * L), a22 = FloatVector.fromArray(F, acc, at + 8 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L), a31 = FloatVector.fromArray(F, acc, at + 10 * L), a32 = FloatVector.fromArray(F, acc, at + 11 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L), a41 = FloatVector.fromArray(F, acc, at + 13 * L), a42 = FloatVector.fromArray(F, acc, at + 14 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L), a51 = FloatVector.fromArray(F, acc, at + 16 * L), a52 = FloatVector.fromArray(F, acc, at + 17 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L), a61 = FloatVector.fromArray(F, acc, at + 19 * L), a62 = FloatVector.fromArray(F, acc, at + 20 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L), a71 = FloatVector.fromArray(F, acc, at + 22 * L), a72 = FloatVector.fromArray(F, acc, at + 23 * L);
        for (int c = c0, xo = xo0 + c0 * stride; c < c1; c++, xo += stride) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector x1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector x2 = FloatVector.fromArray(F, xt, xo + 2 * L);
            FloatVector b = FloatVector.broadcast(F, w[wo + c]);
            a00 = b.fma(x0, a00);
            a01 = b.fma(x1, a01);
            a02 = b.fma(x2, a02);
            b = FloatVector.broadcast(F, w[w1 + c]);
            a10 = b.fma(x0, a10);
            a11 = b.fma(x1, a11);
            a12 = b.fma(x2, a12);
            b = FloatVector.broadcast(F, w[w2 + c]);
            a20 = b.fma(x0, a20);
            a21 = b.fma(x1, a21);
            a22 = b.fma(x2, a22);
            b = FloatVector.broadcast(F, w[w3 + c]);
            a30 = b.fma(x0, a30);
            a31 = b.fma(x1, a31);
            a32 = b.fma(x2, a32);
            b = FloatVector.broadcast(F, w[w4 + c]);
            a40 = b.fma(x0, a40);
            a41 = b.fma(x1, a41);
            a42 = b.fma(x2, a42);
            b = FloatVector.broadcast(F, w[w5 + c]);
            a50 = b.fma(x0, a50);
            a51 = b.fma(x1, a51);
            a52 = b.fma(x2, a52);
            b = FloatVector.broadcast(F, w[w6 + c]);
            a60 = b.fma(x0, a60);
            a61 = b.fma(x1, a61);
            a62 = b.fma(x2, a62);
            b = FloatVector.broadcast(F, w[w7 + c]);
            a70 = b.fma(x0, a70);
            a71 = b.fma(x1, a71);
            a72 = b.fma(x2, a72);
        }
        a00.intoArray(acc, at);
        a01.intoArray(acc, at + 1 * L);
        a02.intoArray(acc, at + 2 * L);
        a10.intoArray(acc, at + 3 * L);
        a11.intoArray(acc, at + 4 * L);
        a12.intoArray(acc, at + 5 * L);
        a20.intoArray(acc, at + 6 * L);
        a21.intoArray(acc, at + 7 * L);
        a22.intoArray(acc, at + 8 * L);
        a30.intoArray(acc, at + 9 * L);
        a31.intoArray(acc, at + 10 * L);
        a32.intoArray(acc, at + 11 * L);
        a40.intoArray(acc, at + 12 * L);
        a41.intoArray(acc, at + 13 * L);
        a42.intoArray(acc, at + 14 * L);
        a50.intoArray(acc, at + 15 * L);
        a51.intoArray(acc, at + 16 * L);
        a52.intoArray(acc, at + 17 * L);
        a60.intoArray(acc, at + 18 * L);
        a61.intoArray(acc, at + 19 * L);
        a62.intoArray(acc, at + 20 * L);
        a70.intoArray(acc, at + 21 * L);
        a71.intoArray(acc, at + 22 * L);
        a72.intoArray(acc, at + 23 * L);
    }

    /** 8 rows x 2 token vectors: 16 accumulators, 2 token vectors and a broadcast (19 registers). */
    private static void kernel8x2(float[] w, int wo, int k, int c0, int c1, float[] xt, int xo0, int stride, float[] acc,
                                  int at) {
        int w1 = wo + k, w2 = wo + 2 * k, w3 = wo + 3 * k, w4 = wo + 4 * k, w5 = wo + 5 * k, w6 = wo + 6 * k, w7 = wo + 7 * k;
        FloatVector a00 = FloatVector.fromArray(F, acc, at), a01 = FloatVector.fromArray(F, acc, at + 1 * L);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L), a11 = FloatVector.fromArray(F, acc, at + 4 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L), a21 = FloatVector.fromArray(F, acc, at + 7 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L), a31 = FloatVector.fromArray(F, acc, at + 10 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L), a41 = FloatVector.fromArray(F, acc, at + 13 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L), a51 = FloatVector.fromArray(F, acc, at + 16 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L), a61 = FloatVector.fromArray(F, acc, at + 19 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L), a71 = FloatVector.fromArray(F, acc, at + 22 * L);
        for (int c = c0, xo = xo0 + c0 * stride; c < c1; c++, xo += stride) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector x1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector b = FloatVector.broadcast(F, w[wo + c]);
            a00 = b.fma(x0, a00);
            a01 = b.fma(x1, a01);
            b = FloatVector.broadcast(F, w[w1 + c]);
            a10 = b.fma(x0, a10);
            a11 = b.fma(x1, a11);
            b = FloatVector.broadcast(F, w[w2 + c]);
            a20 = b.fma(x0, a20);
            a21 = b.fma(x1, a21);
            b = FloatVector.broadcast(F, w[w3 + c]);
            a30 = b.fma(x0, a30);
            a31 = b.fma(x1, a31);
            b = FloatVector.broadcast(F, w[w4 + c]);
            a40 = b.fma(x0, a40);
            a41 = b.fma(x1, a41);
            b = FloatVector.broadcast(F, w[w5 + c]);
            a50 = b.fma(x0, a50);
            a51 = b.fma(x1, a51);
            b = FloatVector.broadcast(F, w[w6 + c]);
            a60 = b.fma(x0, a60);
            a61 = b.fma(x1, a61);
            b = FloatVector.broadcast(F, w[w7 + c]);
            a70 = b.fma(x0, a70);
            a71 = b.fma(x1, a71);
        }
        a00.intoArray(acc, at);
        a01.intoArray(acc, at + 1 * L);
        a10.intoArray(acc, at + 3 * L);
        a11.intoArray(acc, at + 4 * L);
        a20.intoArray(acc, at + 6 * L);
        a21.intoArray(acc, at + 7 * L);
        a30.intoArray(acc, at + 9 * L);
        a31.intoArray(acc, at + 10 * L);
        a40.intoArray(acc, at + 12 * L);
        a41.intoArray(acc, at + 13 * L);
        a50.intoArray(acc, at + 15 * L);
        a51.intoArray(acc, at + 16 * L);
        a60.intoArray(acc, at + 18 * L);
        a61.intoArray(acc, at + 19 * L);
        a70.intoArray(acc, at + 21 * L);
        a71.intoArray(acc, at + 22 * L);
    }

    /** 8 rows x 1 token vector: 8 accumulators, 1 token vector and a broadcast (10 registers). */
    private static void kernel8x1(float[] w, int wo, int k, int c0, int c1, float[] xt, int xo0, int stride, float[] acc,
                                  int at) {
        int w1 = wo + k, w2 = wo + 2 * k, w3 = wo + 3 * k, w4 = wo + 4 * k, w5 = wo + 5 * k, w6 = wo + 6 * k, w7 = wo + 7 * k;
        FloatVector a00 = FloatVector.fromArray(F, acc, at);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L);
        for (int c = c0, xo = xo0 + c0 * stride; c < c1; c++, xo += stride) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector b = FloatVector.broadcast(F, w[wo + c]);
            a00 = b.fma(x0, a00);
            b = FloatVector.broadcast(F, w[w1 + c]);
            a10 = b.fma(x0, a10);
            b = FloatVector.broadcast(F, w[w2 + c]);
            a20 = b.fma(x0, a20);
            b = FloatVector.broadcast(F, w[w3 + c]);
            a30 = b.fma(x0, a30);
            b = FloatVector.broadcast(F, w[w4 + c]);
            a40 = b.fma(x0, a40);
            b = FloatVector.broadcast(F, w[w5 + c]);
            a50 = b.fma(x0, a50);
            b = FloatVector.broadcast(F, w[w6 + c]);
            a60 = b.fma(x0, a60);
            b = FloatVector.broadcast(F, w[w7 + c]);
            a70 = b.fma(x0, a70);
        }
        a00.intoArray(acc, at);
        a10.intoArray(acc, at + 3 * L);
        a20.intoArray(acc, at + 6 * L);
        a30.intoArray(acc, at + 9 * L);
        a40.intoArray(acc, at + 12 * L);
        a50.intoArray(acc, at + 15 * L);
        a60.intoArray(acc, at + 18 * L);
        a70.intoArray(acc, at + 21 * L);
    }
}
