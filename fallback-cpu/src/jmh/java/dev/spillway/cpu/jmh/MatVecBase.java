package dev.spillway.cpu.jmh;

import dev.spillway.engine.tensor.GgmlType;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What every mat-vec benchmark shares, so that kernels compare under the same parameters: the shape,
 * where the weights live, the matrices, the input row and the output. A subclass declares its
 * {@code type} parameter (the types its kernel takes) and may prepare more in {@link #prepare}.
 */
public abstract class MatVecBase extends KernelBenchmark {
    /** rows x cols; TinyLlama's: 2048 x 5632 (ffn_down) and 5632 x 2048 (ffn_gate/up). */
    @Param({"2048x5632", "5632x2048"})
    public String shape;
    /** {@code dram}: copies cycled (memory bound); {@code cache}: an L2-sized block re-read (compute). */
    @Param({"dram", "cache"})
    public String weights;

    protected KernelData.Matrices w;
    protected float[] x;
    protected float[] out;

    /** The weight type (the subclass's {@code @Param}). */
    protected abstract GgmlType type();

    /** Called at the end of setup, with {@link #w}, {@link #x} and {@link #out} ready. */
    protected void prepare() {
    }

    @Setup
    public void setup() {
        w = new KernelData.Matrices(type(), shape, weights);
        x = KernelData.random(w.cols, 2);
        out = new float[w.rows];
        prepare();
        KernelData.report("mat-vec " + w.describe(), w.bytes());
    }

    @TearDown
    public void tearDown() {
        w.close();
    }
}
