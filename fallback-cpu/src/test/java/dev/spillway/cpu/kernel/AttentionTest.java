package dev.spillway.cpu.kernel;

import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Attention#attend} against the by-definition {@link ScalarReference#attention}, for every
 * cache type, grouped-query heads (group size 2) and head sizes whose slices start inside a
 * quantization block (head_dim 8 and 40 in 32-element blocks).
 *
 * <p>Tolerance: the output is a convex combination of V rows, so it is compared against
 * {@code 1e-4 * max|V|}: the float score of a head of d elements carries a relative error of about
 * d * 2^-24 of sum |q k|, which moves the softmax weights (and the output) by far less.
 */
class AttentionTest {

    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0}) {
            all.add(Arguments.of(type, new AttentionShape(8, 4, 8, 1 / (float) Math.sqrt(8)))); // kvDim 32: heads 1..3 mid-block
            all.add(Arguments.of(type, new AttentionShape(8, 4, 40, 1 / (float) Math.sqrt(40)))); // kvDim 160
            all.add(Arguments.of(type, new AttentionShape(4, 2, 64, 0.125f)));                    // kvDim 128
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesTheDefinitionWithCausalMasking(GgmlType type, AttentionShape shape) {
        Random r = new Random(shape.headDim() * 31L + type.id());
        int ctx = 24, startPos = 9, n = 5;
        int kvDim = shape.kvDim();
        float[] kValues = TestData.gaussian(r, ctx * kvDim, 1f);
        float[] vValues = TestData.gaussian(r, ctx * kvDim, 1f);
        int last = startPos + n; // rows >= last are never attended to
        for (int i = last * kvDim; i < ctx * kvDim; i++) {
            kValues[i] = 1e4f;   // would dominate every softmax if read
            vValues[i] = -1e4f;
        }
        KvRows k = new KvRows(type, Quants.quantize(type, kValues), kvDim);
        KvRows v = new KvRows(type, Quants.quantize(type, vValues), kvDim);
        float[] q = TestData.gaussian(r, n * shape.qDim(), 1f);

        float[] expected = new float[n * shape.qDim()];
        ScalarReference.attention(expected, q, k, v, shape, startPos, n);

        float[] actual = new float[n * shape.qDim()];
        float[] scores = new float[Attention.scoreFloats(shape, startPos + n)];
        float[] kBuf = new float[k.bufferFloats(shape.headDim())];
        float[] vBuf = new float[v.bufferFloats(shape.headDim())];
        for (int t = 0; t < n; t++) {
            for (int g = 0; g < shape.kvHeadCount(); g++) {
                Attention.attend(actual, t * shape.qDim(), q, t * shape.qDim(), k, v, shape, g, startPos + t + 1,
                        scores, kBuf, vBuf);
            }
        }
        float maxV = 0;
        for (int i = 0; i < last * kvDim; i++) {
            maxV = Math.max(maxV, Math.abs(vValues[i]));
        }
        for (int i = 0; i < actual.length; i++) {
            double err = Math.abs((double) actual[i] - expected[i]);
            if (!(err <= 1e-4 * maxV)) {
                throw new AssertionError(type + " " + shape + " [" + i + "]: " + actual[i] + " vs " + expected[i]);
            }
        }
        // The masked rows hold +-1e4: reading even one would have pushed outputs far past max|V|.
        for (float a : actual) {
            if (!(Math.abs(a) <= maxV * 1.01f)) {
                throw new AssertionError("output " + a + " outside the range of the visible V rows");
            }
        }
        assertDifferentPerToken(actual, shape, n);
    }

    /** Guards against a kernel that ignores position: each token's output must differ from the previous one. */
    private static void assertDifferentPerToken(float[] out, AttentionShape shape, int n) {
        for (int t = 1; t < n; t++) {
            boolean differs = false;
            for (int i = 0; i < shape.qDim(); i++) {
                differs |= out[t * shape.qDim() + i] != out[(t - 1) * shape.qDim() + i];
            }
            if (!differs) {
                throw new AssertionError("tokens " + (t - 1) + " and " + t + " have identical outputs");
            }
        }
    }
}
