package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real stories260K model with every layer and the output head on OpenCL: greedy decoding must
 * give, token for token, the text llama.cpp gives (pinned in {@link Stories260KTest}).
 */
class OpenClStories260KTest {

    @ParameterizedTest(name = "batch {0}, cache {1}")
    @CsvSource({"512, F32", "2, F16", "512, Q8_0"})
    void greedyContinuationOnOpenClMatchesLlamaCpp(int batch, GgmlType cache) throws Exception {
        Path path = TestModels.stories260K();
        try (DeviceBackend device = OpenClTestSupport.backend()) {
            try (LlamaModel model = OpenClTestSupport.loadAllOn(path, device);
                 Context ctx = new Context(model, ContextParams.defaults().withContextSize(256).withBatchSize(batch)
                         .withCacheType(cache).withSampling(SamplingParams.greedy()), () -> { })) {
                assertArrayEquals(Stories260KTest.PROMPT_IDS, ctx.tokenize("Once upon a time"));
                GenerationResult r = ctx.generate("Once upon a time", 64);
                assertEquals(64, r.tokens().length, "64 tokens without an early end");
                assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, r.text());
            }
            assertEquals(0, device.allocatedBytes(), "model and context closed: nothing left on the device");
        }
    }
}
