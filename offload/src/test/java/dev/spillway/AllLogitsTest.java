package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Context#evaluateAll}: row i of its logits is what {@link Context#evaluate} returns after
 * token i, whatever the batch size, with the output head on the last layer's backend or on another
 * one, and the context goes on as after {@code evaluate}. Ordinary contexts keep a one-row head.
 */
class AllLogitsTest {
    @TempDir
    static Path dir;

    static final int[] TOKENS = {1, 17, 250, 3, 99, 42, 42, 7, 120, 5, 64, 200, 33};

    static ContextParams ctx(int batch) {
        return ContextParams.defaults().withContextSize(32).withBatchSize(batch).withCacheType(GgmlType.F32)
                .withSampling(SamplingParams.greedy());
    }

    /** Row by row, the last-token logits of an ordinary context fed one token at a time. */
    static float[][] oneAtATime(Model m) {
        float[][] rows = new float[TOKENS.length][];
        try (Context c = m.newContext(ctx(8))) {
            for (int i = 0; i < TOKENS.length; i++) {
                rows[i] = c.evaluate(new int[] {TOKENS[i]});
            }
        }
        return rows;
    }

    static void assertRows(float[][] expected, float[] all, int vocab, String what) {
        for (int i = 0; i < expected.length; i++) {
            float max = 0;
            for (float v : expected[i]) {
                max = Math.max(max, Math.abs(v));
            }
            for (int j = 0; j < vocab; j++) {
                float diff = Math.abs(expected[i][j] - all[i * vocab + j]);
                if (diff > 1e-4f * max) {
                    throw new AssertionError(what + ": row " + i + " logit " + j + ": " + all[i * vocab + j]
                            + " vs " + expected[i][j] + " one token at a time");
                }
            }
        }
    }

    @ParameterizedTest(name = "batch {0}")
    @ValueSource(ints = {1, 5, 13, 32})
    void everyRowIsWhatOneTokenAtATimeGives(int batch) throws Exception {
        Path file = TestModels.write(TestModels.tiny(GgmlType.F32), dir);
        try (Model m = Model.load(file, ModelParams.defaults().withThreads(1).withGpuLayers(0))) {
            int vocab = m.config().vocabSize();
            float[][] expected = oneAtATime(m);
            try (Context c = m.newContext(ctx(batch).withAllLogits(true))) {
                float[] all = new float[TOKENS.length * vocab];
                c.evaluateAll(TOKENS, all);
                assertRows(expected, all, vocab, "batch " + batch);
                assertEquals(TOKENS.length, c.position());
                // generation continues after the last token as it does after evaluate
                try (Context plain = m.newContext(ctx(batch))) {
                    plain.evaluate(TOKENS);
                    assertEquals(plain.generate("", 6).text(), c.generate("", 6).text());
                }
                // a pending token from generate is evaluated first, its logits not returned
                c.clear();
                c.evaluateAll(new int[] {TOKENS[0]}, new float[vocab]);
                c.generate("", 1);                                        // samples a token it does not evaluate
                float[] after = new float[2 * vocab];
                c.evaluateAll(new int[] {TOKENS[1], TOKENS[2]}, after);
                assertEquals(4, c.position(), "BOS, the pending token and two more");
            }
        }
    }

    @Test
    void refusesWhatItCannotDo() throws Exception {
        Path file = TestModels.write(TestModels.tiny(GgmlType.F32), dir);
        try (Model m = Model.load(file, ModelParams.defaults().withThreads(1).withGpuLayers(0))) {
            int vocab = m.config().vocabSize();
            try (Context plain = m.newContext(ctx(8))) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> plain.evaluateAll(TOKENS, new float[TOKENS.length * vocab]));
                assertTrue(e.getMessage().contains("withAllLogits"), e.getMessage());
            }
            try (Context c = m.newContext(ctx(8).withAllLogits(true))) {
                assertThrows(IllegalArgumentException.class, () -> c.evaluateAll(TOKENS, new float[TOKENS.length * vocab - 1]));
                assertEquals(0, c.position(), "nothing evaluated");
            }
            assertTrue(!ContextParams.defaults().allLogits(), "off by default");
        }
    }

    /** The head on the device with the last layer, and on the CPU after a device layer (rows cross). */
    @ParameterizedTest(name = "-ngl {0}")
    @ValueSource(ints = {1, -1})
    void onOpenClAsOnTheCpu(int ngl) throws Exception {
        OpenClTestSupport.assumeOpenCl();
        Path file = TestModels.write(TestModels.tiny(GgmlType.Q8_0), dir);
        float[][] expected;
        int vocab;
        try (Model cpu = Model.load(file, ModelParams.defaults().withThreads(1).withGpuLayers(0).withExact(true))) {
            expected = oneAtATime(cpu);
            vocab = cpu.config().vocabSize();
        }
        ContextParams params = ctx(5).withAllLogits(true);
        try (Model m = Model.load(file, ModelParams.defaults().withThreads(1).withExact(true).withDevice("opencl").withGpuLayers(ngl)
                .withPlannedContext(params));
             Context c = m.newContext(params)) {
            assertEquals(ngl < 0, m.plan().devices().get(0).output(), m.plan().table());
            float[] all = new float[TOKENS.length * vocab];
            c.evaluateAll(TOKENS, all);
            assertRows(expected, all, vocab, "-ngl " + ngl);
        }
    }
}
