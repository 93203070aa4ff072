package dev.spillway.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * NaN and infinity in F32, F16 and BF16 weights decode as such on TornadoVM (its kernels decode floats
 * by arithmetic, and TornadoVM's default OpenCL flags would let the compiler assume neither exists):
 * a row holding NaN gives NaN, one holding +infinity gives +infinity, as on the CPU.
 */
class TornadoSpecialValuesTest {

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16"})
    void nanAndInfinityInWeightsReachTheOutputAsOnTheCpu(GgmlType type) {
        int cols = 4;
        float[] w = {1, Float.NaN, 2, 3,   1, Float.POSITIVE_INFINITY, 2, 3,   1, 2, 3, 4};
        float[] x = {1, 1, 1, 1};
        TensorView tv = new TensorView("w", type, new long[] {cols, 3}, Quants.quantize(type, w));
        try (TornadoBackend b = TornadoTesting.backend();
             CpuBackend cpu = new CpuBackend(new CpuBackend.Options(1).withExact(true))) {
            float[] got = run(b, tv, x);
            float[] want = run(cpu, tv, x);
            assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(got));
            assertEquals("[NaN, Infinity, 10.0]", java.util.Arrays.toString(got));
        }
    }

    private static float[] run(dev.spillway.engine.backend.Backend b, TensorView tv, float[] x) {
        try (Weight w = b.loadWeight(tv);
             Activations in = b.allocateActivations(1, 4);
             Activations out = b.allocateActivations(1, 3)) {
            b.write(in, x, 1);
            b.matmul(out, in, w, 1);
            float[] r = new float[3];
            b.read(out, r, 1);
            return r;
        }
    }
}
