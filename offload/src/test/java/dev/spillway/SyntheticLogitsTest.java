package dev.spillway;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.ReferenceLlama;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.Logits;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole engine (GGUF → weights on the CPU backend → graph → logits) against the plain float
 * reference forward pass, for a synthetic model in every weight type.
 *
 * <p>Both sides decode the same quantized weights, so quantization error cancels out: what remains
 * is float rounding (the engine sums in float vectors, the reference in double). Tolerance: every
 * logit within 1e-3 of the reference, relative to the largest reference logit.
 */
class SyntheticLogitsTest {
    static final double TOLERANCE = 1e-3;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void logitsMatchTheFloatReference(GgmlType type) throws Exception {
        compare(TestModels.tiny(type), type.name());
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "Q8_0"})
    void tiedOutputMatchesTheFloatReference(GgmlType type) throws Exception {
        SyntheticLlama.Spec s = TestModels.tiny(type);
        compare(new SyntheticLlama.Spec(s.embeddingDim(), s.layerCount(), s.feedForwardDim(), s.headCount(),
                s.kvHeadCount(), s.vocabSize(), s.contextLength(), type, true, 5), type + " tied");
    }

    /**
     * A 7-token prompt in batches of 3 (so batches of 3, 3 and 1), then 4 single tokens; the logits
     * after the prompt and after each single token are compared.
     */
    /**
     * The default integer path (activations rounded to 8-bit blocks; Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights in
     * row groups, which this model's shapes allow) against the same float reference: only the
     * activations' rounding separates them, so a looser bound, {@value #INTEGER_TOLERANCE} of the
     * largest logit (measured after the prompt: 1.1 to 1.3 % for Q8_0, Q4_0 and Q4_K), and the weights really are packed.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void theIntegerPathStaysCloseToTheFloatReference(GgmlType type) throws Exception {
        compare(TestModels.tiny(type), type + " integer path", false, INTEGER_TOLERANCE);
    }

    static final double INTEGER_TOLERANCE = 2e-2;

    private void compare(SyntheticLlama.Spec spec, String label) throws Exception {
        compare(spec, label, true, TOLERANCE);
    }

    private void compare(SyntheticLlama.Spec spec, String label, boolean exact, double tolerance) throws Exception {
        Path file = TestModels.write(spec, dir);
        int[] prompt = {1, 17, 250, 3, 299, 42, 8};
        int[] next = {100, 7, 7, 260};
        ReferenceLlama reference;
        try (GgufFile f = GgufFile.open(file)) {
            reference = new ReferenceLlama(f, 64);
        }
        float[] expected = null;
        for (int t : prompt) {
            expected = reference.forward(t);
        }
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(2).withExact(exact));
             Context ctx = model.newContext(ContextParams.defaults().withContextSize(64).withBatchSize(3)
                     .withCacheType(GgmlType.F32))) {
            if (!exact) {
                org.junit.jupiter.api.Assertions.assertTrue(model.memoryInfo().pool("host").weightBytes() > 0, label + ": packed");
            }
            Logits.assertClose(expected, ctx.evaluate(prompt), tolerance, label + " after the prompt");
            for (int i = 0; i < next.length; i++) {
                expected = reference.forward(next[i]);
                Logits.assertClose(expected, ctx.evaluate(new int[] {next[i]}), tolerance, label + " after generated token " + i);
            }
        }
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        Logits.assertClose(expected, actual, TOLERANCE, what);
    }
}
