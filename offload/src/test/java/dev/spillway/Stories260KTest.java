package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The real, trained stories260K model (../shared/models; skipped when absent). Greedy decoding of
 * "Once upon a time" must continue with the text its README gives (from the model's publishers).
 */
class Stories260KTest {
    /** The continuation given in ../shared/models/README.md. */
    static final String README_CONTINUATION =
            ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

    @Test
    void greedyContinuationMatchesTheReadme() throws Exception {
        Path path = TestModels.stories260K();
        try (Model model = Model.load(path, ModelParams.defaults().withThreads(2));
             Context ctx = model.newContext(ContextParams.defaults().withContextSize(256)
                     .withCacheType(GgmlType.F32).withSampling(SamplingParams.greedy()))) {
            GenerationResult r = ctx.generate("Once upon a time", 48);
            assertEquals(48, r.tokens().length, "48 tokens generated without an early end");
            String first40 = model.tokenizer().decode(java.util.Arrays.copyOf(r.tokens(), 40));
            assertTrue(README_CONTINUATION.startsWith(first40) || first40.startsWith(README_CONTINUATION),
                    "greedy text differs from the README:\n  got:      " + first40 + "\n  expected: " + README_CONTINUATION);
            assertTrue(first40.length() >= README_CONTINUATION.length() - 20,
                    "40 tokens cover most of the README's sentence: " + first40);
        }
    }
}
