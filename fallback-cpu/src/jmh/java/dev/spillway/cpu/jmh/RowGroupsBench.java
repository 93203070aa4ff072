package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.MatMat;
import dev.spillway.cpu.kernel.MatVecQ8;
import dev.spillway.cpu.kernel.PackedQ4_0;
import dev.spillway.cpu.kernel.PackedQ4_1;
import dev.spillway.cpu.kernel.PackedQ4_K;
import dev.spillway.cpu.kernel.PackedQ5_K;
import dev.spillway.cpu.kernel.PackedQ8_0;
import dev.spillway.cpu.kernel.RowGroups;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The packed kernels ({@link PackedQ4_0}, {@link PackedQ4_1}, {@link PackedQ8_0}, {@link PackedQ4_K}, {@link PackedQ5_K} over {@link RowGroups}) beside the
 * file-layout ones, same parameters and data: run with {@code MatVecBench}, {@code MatVecQ8Bench}
 * and {@code MatMatBench} at the same {@code type} for the comparison.
 * {@code matVec} is the kernel alone on an activation row prepared at setup, {@code quantizeMatVec}
 * includes quantizing the row, {@code matMat} multiplies {@code n} tokens (in {@code weights=cache},
 * the same block {@code rows/block} times, so its flops per op are those of the whole matrix).
 * {@code floatTileMatMat} (Q8_0 only: what a prompt on packed Q8_0 runs) is {@link MatMat#matMatPackedQ8_0}
 * on the same batch, transposed as the backend does once per product.
 */
public class RowGroupsBench extends MatVecBase {
    @Param({"Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K"})
    public GgmlType type;

    /** Tokens of {@code matMat}. */
    @Param({"64"})
    public int n;

    private short[] qx;
    private float[] dx;
    private int[] pairs;
    private int[] sums8;
    private int[] batchPairs;
    private int[] batchSums8;
    private float[] batchScales;
    private float[] batchOut;
    private float[] xs;
    private float[] xt;
    private float[] tile;

    @Override
    protected GgmlType type() {
        return type;
    }

    @Override
    protected void prepare() {
        w.pack();
        int blocks = w.cols / Quants.QK;
        qx = new short[w.cols];
        dx = new float[blocks];
        pairs = new int[w.cols / 2];
        sums8 = new int[blocks];
        MatVecQ8.quantize(x, 0, w.cols, qx, dx);
        RowGroups.pairs(qx, w.cols, pairs, sums8, 0);
        xs = KernelData.random(n * w.cols, 3);
        xt = new float[(int) MatMat.transposedFloats(n, w.cols)];
        tile = new float[MatMat.scratchFloats(w.cols)];
        batchPairs = new int[n * w.cols / 2];
        batchSums8 = new int[n * blocks];
        batchScales = new float[n * blocks];
        RowGroups.quantizeRows(xs, n, w.cols, qx, new float[blocks], batchPairs, batchSums8, batchScales);
        batchOut = new float[n * w.passRows];
        KernelData.report("packed mat-mat n=" + n + " (flops per op, GFLOP/s)", 2L * n * w.rows * w.cols);
    }

    @Benchmark
    public float[] matVec() {
        MemorySegment m = w.next();
        for (int r = 0; r < w.rows; r += w.passRows) {
            switch (type) {
                case Q4_0 -> PackedQ4_0.matVec(m, w.cols, pairs, sums8, dx, 0, out, 0, 0, w.passRows);
                case Q4_1 -> PackedQ4_1.matVec(m, w.cols, pairs, sums8, dx, 0, out, 0, 0, w.passRows);
                case Q4_K -> PackedQ4_K.matVec(m, w.cols, pairs, sums8, dx, 0, out, 0, 0, w.passRows);
                case Q5_K -> PackedQ5_K.matVec(m, w.cols, pairs, sums8, dx, 0, out, 0, 0, w.passRows);
                default -> PackedQ8_0.matVec(m, w.cols, pairs, dx, 0, out, 0, 0, w.passRows);
            }
        }
        return out;
    }

    @Benchmark
    public float[] quantizeMatVec() {
        MatVecQ8.quantize(x, 0, w.cols, qx, dx);
        RowGroups.pairs(qx, w.cols, pairs, sums8, 0);
        return matVec();
    }

    @Benchmark
    public float[] matMat() {
        MemorySegment m = w.next();
        for (int r = 0; r < w.rows; r += w.passRows) {
            switch (type) {
                case Q4_0 -> PackedQ4_0.matMat(m, w.cols, n, batchPairs, batchSums8, batchScales, batchOut, w.passRows, 0, w.passRows);
                case Q4_1 -> PackedQ4_1.matMat(m, w.cols, n, batchPairs, batchSums8, batchScales, batchOut, w.passRows, 0, w.passRows);
                case Q4_K -> PackedQ4_K.matMat(m, w.cols, n, batchPairs, batchSums8, batchScales, batchOut, w.passRows, 0, w.passRows);
                case Q5_K -> PackedQ5_K.matMat(m, w.cols, n, batchPairs, batchSums8, batchScales, batchOut, w.passRows, 0, w.passRows);
                default -> PackedQ8_0.matMat(m, w.cols, n, batchPairs, batchScales, batchOut, w.passRows, 0, w.passRows);
            }
        }
        return batchOut;
    }

    @Benchmark
    public float[] floatTileMatMat() {
        if (type != GgmlType.Q8_0) {
            throw new IllegalStateException("floatTileMatMat runs Q8_0 only (-p type=Q8_0)");
        }
        MatMat.transpose(xs, n, w.cols, xt);
        MemorySegment m = w.next();
        for (int r = 0; r < w.rows; r += w.passRows) {
            MatMat.matMatPackedQ8_0(m, w.cols, xt, n, batchOut, w.passRows, 0, w.passRows, tile);
        }
        return batchOut;
    }
}
