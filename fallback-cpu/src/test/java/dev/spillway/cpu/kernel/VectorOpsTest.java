package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.engine.backend.RopeSpec;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Vector kernels against the double-precision {@link ScalarReference}. Tolerances are relative to
 * the magnitude of the result: float arithmetic with a handful of roundings per element (and
 * SVML's exp, within a few ulps) stays well below the stated bounds.
 */
class VectorOpsTest {

    /** Element i fails if |actual - expected| > rel * |expected| + abs. */
    private static void assertClose(float[] expected, float[] actual, double rel, double abs, String what) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) actual[i] - expected[i]);
            if (!(err <= rel * Math.abs(expected[i]) + abs)) {
                throw new AssertionError(what + " [" + i + "]: " + actual[i] + " vs " + expected[i] + ", error " + err);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 64, 100, 4096})
    void rmsNorm(int dim) {
        Random r = new Random(dim);
        int n = 3;
        float[] x = TestData.gaussian(r, n * dim, 2f);
        float[] gamma = TestData.gaussian(r, dim, 1f);
        float[] expected = new float[n * dim];
        ScalarReference.rmsNorm(expected, x, gamma, n, dim, 1e-5f);
        float[] actual = x.clone();
        for (int t = 0; t < n; t++) {
            VectorOps.rmsNorm(actual, t * dim, actual, t * dim, TestData.f32(gamma), dim, 1e-5f); // in place
        }
        // sum of squares: dim/L + log L roundings; then 3 multiplications and a square root
        assertClose(expected, actual, 1e-5, 1e-7, "rmsNorm dim " + dim);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 16, 100, 1000})
    void softmax(int n) {
        float[] a = TestData.gaussian(new Random(n), n + 3, 5f);
        a[1] = 40f; // a dominant element, to exercise the max subtraction
        float[] expected = a.clone();
        ScalarReference.softmax(expected, 2, n);
        VectorOps.softmax(a, 2, n);
        assertClose(expected, a, 1e-5, 1e-9, "softmax n " + n);
        double sum = 0;
        for (int i = 2; i < n + 2; i++) {
            sum += a[i];
        }
        assertEquals(1.0, sum, 1e-5);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 9, 64, 1000})
    void swigluAndAdd(int n) {
        Random r = new Random(n);
        float[] gate = TestData.gaussian(r, n, 4f);
        gate[0] = -100f; // exp(100) overflows: silu -> -0
        float[] up = TestData.gaussian(r, n, 1f);
        float[] expected = gate.clone();
        ScalarReference.swiglu(expected, up, n);
        float[] actual = gate.clone();
        VectorOps.swiglu(actual, 0, up, 0, n);
        assertClose(expected, actual, 1e-5, 1e-30, "swiglu");

        float[] sum = gate.clone();
        ScalarReference.add(sum, up, n);
        float[] vsum = gate.clone();
        VectorOps.add(vsum, 0, up, 0, n);
        assertArrayEquals(sum, vsum); // one float addition per element either way
    }

    @ParameterizedTest
    @ValueSource(strings = {"INTERLEAVED", "NEOX"})
    void ropeMatchesTheDefinition(String style) {
        Random r = new Random(style.hashCode());
        int heads = 3;
        for (int headDim : new int[] {8, 64, 128}) {
            for (int rot : new int[] {headDim, headDim / 2}) { // all of the head, or its first half (Phi-style partial)
                float[] factors = new float[rot / 2];
                for (int i = 0; i < factors.length; i++) {
                    factors[i] = 1 + i % 4; // Llama 3.1-style per-pair divisors
                }
                for (RopeSpec spec : new RopeSpec[] {
                        new RopeSpec(RopeSpec.Style.valueOf(style), rot, 10000f, 1f, null),
                        new RopeSpec(RopeSpec.Style.valueOf(style), rot, 500000f, 0.25f, factors)}) {
                    for (int startPos : new int[] {0, 7, 131_000}) {
                        checkRope(r, spec, heads, headDim, startPos);
                    }
                }
            }
        }
    }

    private static void checkRope(Random r, RopeSpec spec, int heads, int headDim, int startPos) {
        int n = 3;
        float[] x = TestData.gaussian(r, n * heads * headDim, 1f);
        float[] expected = x.clone();
        ScalarReference.rope(expected, n, heads, headDim, startPos, spec);
        RopeTable table = new RopeTable(spec);
        float[] cs = new float[table.tableFloats()];
        for (int t = 0; t < n; t++) {
            table.fill(startPos + t, cs);
            VectorOps.rope(x, t * heads * headDim, heads, headDim, table, cs);
        }
        // A rotation: each output is x0*cos -/+ x1*sin with cos/sin rounded to float, so the error
        // is a few ulps of |x0| + |x1| <= 2 * max|x|; the unrotated tail is untouched.
        for (int i = 0; i < x.length; i++) {
            double err = Math.abs((double) x[i] - expected[i]);
            if (!(err <= 2e-6 * 8)) { // |x| < 8 for these gaussians
                throw new AssertionError(spec + " pos " + startPos + " [" + i + "]: " + x[i] + " vs " + expected[i]);
            }
        }
    }

    @Test
    void dotAndAxpyHandleTails() {
        Random r = new Random(3);
        for (int n : new int[] {1, 3, 17, 40}) {
            float[] a = TestData.gaussian(r, n + 2, 1f), b = TestData.gaussian(r, n + 5, 1f);
            double ref = 0, abs = 0;
            for (int i = 0; i < n; i++) {
                ref += (double) a[2 + i] * b[5 + i];
                abs += Math.abs((double) a[2 + i] * b[5 + i]);
            }
            assertEquals(ref, VectorOps.dot(a, 2, b, 5, n, new float[Simd.L]), (n + 4) * 0x1p-24 * abs);
            float[] y = b.clone();
            VectorOps.axpy(0.5f, a, 2, y, 5, n);
            for (int i = 0; i < n + 5; i++) {
                float want = i < 5 ? b[i] : Math.fma(a[2 + i - 5], 0.5f, b[i]);
                assertEquals(want, y[i]);
            }
        }
    }
}
