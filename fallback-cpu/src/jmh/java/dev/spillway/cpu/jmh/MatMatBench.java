package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.MatMat;
import dev.spillway.engine.tensor.GgmlType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link MatMat#matMat}, {@code n} tokens times one whole weight matrix on one thread (compute bound:
 * one matrix, no copies). GFLOP/s = 2 n rows cols / ns per op (printed at the start of each trial as
 * "flops per op").
 */
public class MatMatBench extends KernelBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    public GgmlType type;
    @Param({"2048x5632", "5632x2048"})
    public String shape;
    /** Tokens: a prompt batch. */
    @Param({"64"})
    public int n;

    private KernelData.Matrices w;
    private float[] x;
    private float[] out;
    private float[] tile;
    private float[] xt;

    @Setup
    public void setup() {
        w = new KernelData.Matrices(type, shape, "single");
        x = KernelData.random(n * w.cols, 2);
        out = new float[n * w.rows];
        tile = new float[MatMat.scratchFloats(w.cols)];
        xt = new float[(int) MatMat.transposedFloats(n, w.cols)];
        KernelData.report("mat-mat n=" + n + " " + type + " " + shape + " (flops per op, GFLOP/s)", 2L * n * w.rows * w.cols);
    }

    @TearDown
    public void tearDown() {
        w.close();
    }

    @Benchmark
    public float[] matMat() {
        MatMat.transpose(x, n, w.cols, xt);   // once per product, as the backend does
        MatMat.matMat(type, w.next(), w.rowBytes, w.cols, xt, n, out, w.rows, 0, w.rows, 0, tile);
        return out;
    }
}
