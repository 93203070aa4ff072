package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real, trained stories260K model (../shared/models; skipped when absent). Greedy decoding of
 * "Once upon a time" must reproduce, token for token, what llama.cpp generates for it: the first
 * sentence is also the one the model's README gives.
 */
class Stories260KTest {
    /**
     * 64 tokens from llama.cpp ({@code llama-simple -n 64 "Once upon a time"}, build de3ff81,
     * greedy), recorded once; the first sentence matches ../shared/models/README.md.
     */
    static final String LLAMA_CPP_CONTINUATION = ", there was a little girl named Lily. She loved to play outside in the park."
            + " One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";

    /** {@code llama-tokenize -p "Once upon a time" --ids}: BOS, ▁Once, ▁upon, ▁a, ▁time. */
    static final int[] PROMPT_IDS = {1, 403, 407, 261, 378};

    @ParameterizedTest(name = "threads {0}, batch {1}, cache {2}")
    @CsvSource({"1, 512, F32", "2, 2, F32", "2, 512, F16"})
    void greedyContinuationMatchesLlamaCpp(int threads, int batch, GgmlType cache) throws Exception {
        Path path = TestModels.stories260K();
        try (Model model = Model.load(path, ModelParams.defaults().withThreads(threads));
             Context ctx = model.newContext(ContextParams.defaults().withContextSize(256).withBatchSize(batch)
                     .withCacheType(cache).withSampling(SamplingParams.greedy()))) {
            assertArrayEquals(PROMPT_IDS, ctx.tokenize("Once upon a time"));
            GenerationResult r = ctx.generate("Once upon a time", 64);
            assertEquals(64, r.tokens().length, "64 tokens without an early end");
            assertEquals(LLAMA_CPP_CONTINUATION, r.text());
        }
    }
}
