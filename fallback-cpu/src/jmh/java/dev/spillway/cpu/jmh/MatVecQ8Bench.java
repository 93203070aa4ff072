package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.MatVecQ8;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * The integer-path mat-vec, {@link MatVecQ8}, with {@link MatVecBench}'s parameters (its types only),
 * so the two are measured side by side: {@code matVec} is the kernel alone on activations quantized
 * at setup (what a matrix costs when several share one input row), {@code quantizeMatVec} includes
 * quantizing the row (one matrix per input).
 */
public class MatVecQ8Bench extends MatVecBase {
    @Param({"Q8_0", "Q4_0"})
    public GgmlType type;

    private short[] qx;
    private float[] dx;

    @Override
    protected GgmlType type() {
        return type;
    }

    @Override
    protected void prepare() {
        qx = new short[w.cols];
        dx = new float[w.cols / Quants.QK];
        MatVecQ8.quantize(x, 0, w.cols, qx, dx);
    }

    @Benchmark
    public float[] matVec() {
        MemorySegment m = w.next();
        for (int r = 0; r < w.rows; r += w.passRows) {
            MatVecQ8.matVec(type, m, w.rowBytes, w.cols, qx, dx, out, 0, 0, w.passRows);
        }
        return out;
    }

    @Benchmark
    public float[] quantizeMatVec() {
        MatVecQ8.quantize(x, 0, w.cols, qx, dx);
        return matVec();
    }
}
