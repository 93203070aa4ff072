package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;

import jdk.incubator.vector.FloatVector;

/**
 * {@link MatMat}'s micro-kernels over a column-major tile ({@code w[c R + i]}, R = {@link MatMat#TILE_ROWS}:
 * the 8 weights a column broadcasts lie side by side), as {@link MatMat#matMatPackedQ8_0} decodes
 * row groups. The same FMA chains, in the same order, as the row-major kernels in {@link MatMat}, of
 * which these are copies with the weight index changed: one set of kernels taking the strides as
 * arguments made the row-major (F16) prompts slower (see {@code MatMat.multiplyTile}).
 */
final class ColumnTileKernels {
    private ColumnTileKernels() {
    }

    private static final int R = MatMat.TILE_ROWS;

    /** 8 rows x 3 token vectors: 24 accumulators, 3 token vectors and a broadcast (28 registers). */
    static void kernel8x3(float[] w, int wo, int c0, int c1, float[] xt, int xo0, int stride, float[] acc, int at) {
        FloatVector a00 = FloatVector.fromArray(F, acc, at), a01 = FloatVector.fromArray(F, acc, at + 1 * L), a02 = FloatVector.fromArray(F, acc, at + 2 * L);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L), a11 = FloatVector.fromArray(F, acc, at + 4 * L), a12 = FloatVector.fromArray(F, acc, at + 5 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L), a21 = FloatVector.fromArray(F, acc, at + 7 * L), a22 = FloatVector.fromArray(F, acc, at + 8 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L), a31 = FloatVector.fromArray(F, acc, at + 10 * L), a32 = FloatVector.fromArray(F, acc, at + 11 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L), a41 = FloatVector.fromArray(F, acc, at + 13 * L), a42 = FloatVector.fromArray(F, acc, at + 14 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L), a51 = FloatVector.fromArray(F, acc, at + 16 * L), a52 = FloatVector.fromArray(F, acc, at + 17 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L), a61 = FloatVector.fromArray(F, acc, at + 19 * L), a62 = FloatVector.fromArray(F, acc, at + 20 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L), a71 = FloatVector.fromArray(F, acc, at + 22 * L), a72 = FloatVector.fromArray(F, acc, at + 23 * L);
        for (int c = c0, xo = xo0 + c0 * stride, wc = wo + c0 * R; c < c1; c++, xo += stride, wc += R) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector x1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector x2 = FloatVector.fromArray(F, xt, xo + 2 * L);
            FloatVector b = FloatVector.broadcast(F, w[wc]);
            a00 = b.fma(x0, a00);
            a01 = b.fma(x1, a01);
            a02 = b.fma(x2, a02);
            b = FloatVector.broadcast(F, w[wc + 1]);
            a10 = b.fma(x0, a10);
            a11 = b.fma(x1, a11);
            a12 = b.fma(x2, a12);
            b = FloatVector.broadcast(F, w[wc + 2]);
            a20 = b.fma(x0, a20);
            a21 = b.fma(x1, a21);
            a22 = b.fma(x2, a22);
            b = FloatVector.broadcast(F, w[wc + 3]);
            a30 = b.fma(x0, a30);
            a31 = b.fma(x1, a31);
            a32 = b.fma(x2, a32);
            b = FloatVector.broadcast(F, w[wc + 4]);
            a40 = b.fma(x0, a40);
            a41 = b.fma(x1, a41);
            a42 = b.fma(x2, a42);
            b = FloatVector.broadcast(F, w[wc + 5]);
            a50 = b.fma(x0, a50);
            a51 = b.fma(x1, a51);
            a52 = b.fma(x2, a52);
            b = FloatVector.broadcast(F, w[wc + 6]);
            a60 = b.fma(x0, a60);
            a61 = b.fma(x1, a61);
            a62 = b.fma(x2, a62);
            b = FloatVector.broadcast(F, w[wc + 7]);
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
    static void kernel8x2(float[] w, int wo, int c0, int c1, float[] xt, int xo0, int stride, float[] acc, int at) {
        FloatVector a00 = FloatVector.fromArray(F, acc, at), a01 = FloatVector.fromArray(F, acc, at + 1 * L);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L), a11 = FloatVector.fromArray(F, acc, at + 4 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L), a21 = FloatVector.fromArray(F, acc, at + 7 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L), a31 = FloatVector.fromArray(F, acc, at + 10 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L), a41 = FloatVector.fromArray(F, acc, at + 13 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L), a51 = FloatVector.fromArray(F, acc, at + 16 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L), a61 = FloatVector.fromArray(F, acc, at + 19 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L), a71 = FloatVector.fromArray(F, acc, at + 22 * L);
        for (int c = c0, xo = xo0 + c0 * stride, wc = wo + c0 * R; c < c1; c++, xo += stride, wc += R) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector x1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector b = FloatVector.broadcast(F, w[wc]);
            a00 = b.fma(x0, a00);
            a01 = b.fma(x1, a01);
            b = FloatVector.broadcast(F, w[wc + 1]);
            a10 = b.fma(x0, a10);
            a11 = b.fma(x1, a11);
            b = FloatVector.broadcast(F, w[wc + 2]);
            a20 = b.fma(x0, a20);
            a21 = b.fma(x1, a21);
            b = FloatVector.broadcast(F, w[wc + 3]);
            a30 = b.fma(x0, a30);
            a31 = b.fma(x1, a31);
            b = FloatVector.broadcast(F, w[wc + 4]);
            a40 = b.fma(x0, a40);
            a41 = b.fma(x1, a41);
            b = FloatVector.broadcast(F, w[wc + 5]);
            a50 = b.fma(x0, a50);
            a51 = b.fma(x1, a51);
            b = FloatVector.broadcast(F, w[wc + 6]);
            a60 = b.fma(x0, a60);
            a61 = b.fma(x1, a61);
            b = FloatVector.broadcast(F, w[wc + 7]);
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
    static void kernel8x1(float[] w, int wo, int c0, int c1, float[] xt, int xo0, int stride, float[] acc, int at) {
        FloatVector a00 = FloatVector.fromArray(F, acc, at);
        FloatVector a10 = FloatVector.fromArray(F, acc, at + 3 * L);
        FloatVector a20 = FloatVector.fromArray(F, acc, at + 6 * L);
        FloatVector a30 = FloatVector.fromArray(F, acc, at + 9 * L);
        FloatVector a40 = FloatVector.fromArray(F, acc, at + 12 * L);
        FloatVector a50 = FloatVector.fromArray(F, acc, at + 15 * L);
        FloatVector a60 = FloatVector.fromArray(F, acc, at + 18 * L);
        FloatVector a70 = FloatVector.fromArray(F, acc, at + 21 * L);
        for (int c = c0, xo = xo0 + c0 * stride, wc = wo + c0 * R; c < c1; c++, xo += stride, wc += R) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector b = FloatVector.broadcast(F, w[wc]);
            a00 = b.fma(x0, a00);
            b = FloatVector.broadcast(F, w[wc + 1]);
            a10 = b.fma(x0, a10);
            b = FloatVector.broadcast(F, w[wc + 2]);
            a20 = b.fma(x0, a20);
            b = FloatVector.broadcast(F, w[wc + 3]);
            a30 = b.fma(x0, a30);
            b = FloatVector.broadcast(F, w[wc + 4]);
            a40 = b.fma(x0, a40);
            b = FloatVector.broadcast(F, w[wc + 5]);
            a50 = b.fma(x0, a50);
            b = FloatVector.broadcast(F, w[wc + 6]);
            a60 = b.fma(x0, a60);
            b = FloatVector.broadcast(F, w[wc + 7]);
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
