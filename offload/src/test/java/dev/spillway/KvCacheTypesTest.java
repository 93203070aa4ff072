package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.ReferenceLlama;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every KV cache type against the float reference (which keeps K and V in float). Cache
 * quantization is the only difference, so the tolerance grows with the type's error: relative to
 * the largest logit, F16 and BF16 within 2e-2, Q8_0 within 3e-2, Q4_0 within 0.15. Head size 8 with
 * 32-element quantization blocks checks that a head's slice may start inside a block.
 */
class KvCacheTypesTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"F32, 0.001", "F16, 0.02", "BF16, 0.02", "Q8_0, 0.03", "Q4_0, 0.15"})
    void cacheTypeStaysCloseToTheReference(GgmlType kvType, double tolerance) throws Exception {
        // head_dim 8: n_embd 64 over 8 heads, 4 KV heads → kv_dim 32 = one Q8_0/Q4_0 block shared by 4 heads.
        SyntheticLlama.Spec spec = new SyntheticLlama.Spec(64, 2, 128, 8, 4, 300, 64, GgmlType.F32, false, 3);
        Path file = TestModels.write(spec, dir);
        int[] tokens = {1, 50, 60, 70, 80, 90, 100, 110, 120, 130};
        ReferenceLlama reference;
        try (GgufFile f = GgufFile.open(file)) {
            reference = new ReferenceLlama(f, 64);
        }
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(2));
             Context ctx = model.newContext(ContextParams.defaults().withContextSize(64).withCacheType(kvType))) {
            for (int t : tokens) {
                float[] expected = reference.forward(t);
                float[] actual = ctx.evaluate(new int[] {t});
                double scale = 0;
                double worst = 0;
                for (int i = 0; i < expected.length; i++) {
                    scale = Math.max(scale, Math.abs(expected[i]));
                    worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
                }
                assertTrue(worst / scale <= tolerance, kvType + " cache at position " + ctx.position() + ": relative error "
                        + worst / scale + " > " + tolerance);
            }
            long expectedBytes = spec.layerCount() * KvCache.bytesFor(64, 32, kvType, kvType);
            assertEquals(expectedBytes, ctx.memoryInfo().kvCacheBytes(), "KV cache size for " + kvType);
        }
    }
}
