package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.MatVec;
import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link MatVec#matVec}, one token times one whole weight matrix on one thread. One op reads every
 * weight byte once: GB/s = weight bytes per op / ns per op (printed at the start of each trial).
 * The integer path, {@link MatVecQ8Bench}, takes the same parameters so the two compare in one run
 * ({@code ci/jmh MatVec -p type=Q4_0}).
 */
public class MatVecBench extends MatVecBase {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    public GgmlType type;

    @Override
    protected GgmlType type() {
        return type;
    }

    @Benchmark
    public float[] matVec() {
        MemorySegment m = w.next();
        for (int r = 0; r < w.rows; r += w.passRows) {
            MatVec.matVec(type, m, w.rowBytes, w.cols, x, 0, out, 0, 0, w.passRows);
        }
        return out;
    }
}
