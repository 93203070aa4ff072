package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.gguf.GgufValueType;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TokenizerMetadataTest {

    private static void assertRejected(Map<String, GgufValue> md, String... mentions) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromMetadata(md));
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), () -> "'" + e.getMessage() + "' should mention " + m);
        }
    }

    private static TestVocab valid() {
        return TestVocab.spm().add("▁", -1);
    }

    @Test
    void unsupportedOrMissingModel() {
        Map<String, GgufValue> bert = valid().metadata();
        bert.put("tokenizer.ggml.model", GgufValue.ofString("bert"));
        assertRejected(bert, "tokenizer.ggml.model", "bert");
        Map<String, GgufValue> none = valid().metadata();
        none.remove("tokenizer.ggml.model");
        assertRejected(none, "tokenizer.ggml.model");
        Map<String, GgufValue> number = valid().metadata();
        number.put("tokenizer.ggml.model", GgufValue.ofUint32(1));
        assertRejected(number, "tokenizer.ggml.model", "STRING");
    }

    @Test
    void malformedArrays() {
        Map<String, GgufValue> noTokens = valid().metadata();
        noTokens.remove("tokenizer.ggml.tokens");
        assertRejected(noTokens, "tokenizer.ggml.tokens");

        Map<String, GgufValue> shortScores = valid().metadata();
        shortScores.put("tokenizer.ggml.scores", TestVocab.array(GgufValueType.FLOAT32, new float[3]));
        assertRejected(shortScores, "tokenizer.ggml.scores", "3");

        Map<String, GgufValue> badType = valid().metadata();
        int[] types = new int[valid().size()];
        types[5] = 9;
        badType.put("tokenizer.ggml.token_type", TestVocab.array(GgufValueType.INT32, types));
        assertRejected(badType, "tokenizer.ggml.token_type[5]", "9");

        Map<String, GgufValue> notArray = valid().metadata();
        notArray.put("tokenizer.ggml.tokens", GgufValue.ofString("abc"));
        assertRejected(notArray, "tokenizer.ggml.tokens", "ARRAY");
    }

    @Test
    void specialIds() {
        Map<String, GgufValue> outOfRange = valid().metadata();
        outOfRange.put("tokenizer.ggml.bos_token_id", GgufValue.ofUint32(100_000));
        assertRejected(outOfRange, "tokenizer.ggml.bos_token_id", "100000");

        Map<String, GgufValue> noBos = valid().metadata();
        noBos.put("tokenizer.ggml.bos_token_id", GgufValue.ofUint32(0xFFFF_FFFF)); // GGUF's "none"
        noBos.put("tokenizer.ggml.padding_token_id", GgufValue.ofUint32(0xFFFF_FFFF));
        Tokenizer t = Tokenizer.fromMetadata(noBos);
        assertEquals(-1, t.bosId());
        assertFalse(t.addBos(), "no BOS to add");
        assertThrows(IllegalStateException.class, () -> t.encode("a", true));
        assertEquals(2, t.eosId());
        assertEquals(0, t.unknownId());
    }

    @Test
    void gpt2NeedsWellFormedMerges() {
        Map<String, GgufValue> noMerges = TestVocab.gpt2(null).metadata();
        noMerges.remove("tokenizer.ggml.merges");
        assertRejected(noMerges, "tokenizer.ggml.merges");

        Map<String, GgufValue> bad = TestVocab.gpt2(null).metadata();
        bad.put("tokenizer.ggml.merges", TestVocab.array(GgufValueType.STRING, new String[] {"ab"}));
        assertRejected(bad, "tokenizer.ggml.merges[0]", "ab");
    }

    @Test
    void unknownPreTokenizerFallsBackToGpt2() {
        Tokenizer t = TestVocab.gpt2("some-future-model").build();
        assertEquals(PreTokenizer.GPT2, ((BpeTokenizer) t).preTokenizer());
        assertEquals("gpt2", t.model());
    }
}
