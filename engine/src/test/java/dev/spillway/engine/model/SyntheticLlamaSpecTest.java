package dev.spillway.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;

/**
 * The benchmark shapes are the real models' shapes: their parameter counts equal the published ones
 * (TinyLlama-1.1B: 1,100,048,384; Llama-2-7B: 6,738,415,616), so a synthetic file streams as many
 * weight bytes per token as the model it stands for.
 */
class SyntheticLlamaSpecTest {

    @Test
    void tinyLlamaHasTinyLlamasParameterCount() {
        SyntheticLlama.Spec s = SyntheticLlama.Spec.tinyLlama(GgmlType.Q4_0);
        assertEquals(1_100_048_384L, s.parameterCount());
        assertEquals("synthetic-v2-2048x22-ff5632-h32-kv4-v32000-q4_0-s1.gguf", s.fileName());
    }

    @Test
    void llama2SevenBHasLlama2sParameterCount() {
        SyntheticLlama.Spec s = SyntheticLlama.Spec.llama2_7b(GgmlType.Q4_0);
        assertEquals(6_738_415_616L, s.parameterCount());
        assertEquals(32, s.kvHeadCount(), "Llama-2-7B has no grouped-query attention");
        assertEquals("synthetic-v2-4096x32-ff11008-h32-kv32-v32000-q4_0-s1.gguf", s.fileName());
    }
}
