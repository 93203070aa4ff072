package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufValue;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BpeTokenizerTest {

    /** Ids 0..255 are the bytes; then merges building "hello", " world" and friends. */
    private static TestVocab words(String pre) {
        return TestVocab.gpt2(pre)
                .merge("h", "e").merge("l", "l").merge("he", "ll").merge("hell", "o")
                .merge("Ġ", "w").merge("o", "r").merge("Ġw", "or").merge("l", "d").merge("Ġwor", "ld")
                .merge("1", "2").merge("12", "3");
    }

    private static int[] ids(TestVocab v, String... pieces) {
        return Arrays.stream(pieces).mapToInt(v::id).toArray();
    }

    /** The byte tokens of text: in TestVocab.gpt2() the id of a byte is the byte. */
    private static int[] bytes(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xFF;
        }
        return ids;
    }

    @Test
    void lowestRankMergesFirst() {
        TestVocab bcFirst = TestVocab.gpt2(null).merge("b", "c").merge("a", "b");
        assertArrayEquals(ids(bcFirst, "a", "bc"), bcFirst.build().encode("abc", false));
        TestVocab abFirst = TestVocab.gpt2(null).merge("a", "b").merge("b", "c");
        assertArrayEquals(ids(abFirst, "ab", "c"), abFirst.build().encode("abc", false));
        TestVocab tie = TestVocab.gpt2(null).merge("a", "a");
        assertArrayEquals(ids(tie, "aa", "a"), tie.build().encode("aaa", false));
    }

    @Test
    void llama3TakesAWholeWordTokenWithoutMerging() {
        // "abc" is a token, but no merge rule builds it from "ab" + "c"
        for (String pre : new String[] {"llama-bpe", "gpt2", "qwen2"}) {
            TestVocab v = TestVocab.gpt2(pre).merge("a", "b").add("abc", 0);
            int[] expected = pre.equals("llama-bpe") ? ids(v, "abc") : ids(v, "ab", "c");
            assertArrayEquals(expected, v.build().encode("abc", false), pre);
        }
    }

    @Test
    void mergesStayWithinWords() {
        TestVocab v = words("llama-bpe");
        Tokenizer t = v.build();
        assertArrayEquals(ids(v, "hello", "Ġworld"), t.encode("hello world", false));
        assertArrayEquals(ids(v, "hello", "Ġ", "Ġ", "hello"), t.encode("hello  hello", false));
        // a merge across a word boundary never happens: "o" + " w" are in different words
        TestVocab cross = TestVocab.gpt2(null).merge("o", "Ġ");
        assertArrayEquals(bytes("o w"), cross.build().encode("o w", false));
    }

    @Test
    void digitGroupingFollowsThePreTokenizer() {
        TestVocab llama = words("llama-bpe");
        assertArrayEquals(ids(llama, "123", "123"), llama.build().encode("123123", false));
        TestVocab qwen = words("qwen2");
        assertArrayEquals(bytes("123123"), qwen.build().encode("123123", false));
        TestVocab gpt2 = words("gpt2");
        // one word "123123": ranks merge 1+2 (both places), then 12+3 (both places)
        assertArrayEquals(ids(gpt2, "123", "123"), gpt2.build().encode("123123", false));
    }

    @Test
    void nonAsciiTextIsSpelledWithByteCharacters() {
        TestVocab v = words(null);
        Tokenizer t = v.build();
        assertArrayEquals(bytes("é😀"), t.encode("é😀", false));
        assertEquals("é😀", t.decode(bytes("é😀")));
    }

    @Test
    void bosDefaultsOffForGpt2() {
        TestVocab v = words(null).add("<|begin_of_text|>", 0, TokenType.CONTROL);
        v.set("tokenizer.ggml.bos_token_id", GgufValue.ofUint32(v.id("<|begin_of_text|>")));
        Tokenizer t = v.build();
        assertFalse(t.addBos());
        assertEquals(v.id("<|begin_of_text|>"), t.encode("hello", true)[0]);
        assertTrue(v.set("tokenizer.ggml.add_bos_token", GgufValue.ofBool(true)).build().addBos());
    }

    @Test
    void specialTokens() {
        TestVocab v = words("llama-bpe").add("<|eot_id|>", 0, TokenType.CONTROL).add("<tool>", 0, TokenType.USER_DEFINED);
        Tokenizer t = v.build();
        int eot = v.id("<|eot_id|>");
        int[] parsed = t.encode("hello<|eot_id|> world", false, true);
        assertArrayEquals(new int[] {v.id("hello"), eot, v.id("Ġworld")}, parsed);
        int[] plain = t.encode("hello<|eot_id|> world", false);
        assertTrue(Arrays.stream(plain).noneMatch(id -> id == eot), Arrays.toString(plain));
        assertEquals("hello<|eot_id|> world", t.decode(plain));
        assertEquals("hello world", t.decode(parsed), "control tokens render as nothing");
        assertEquals("hello<|eot_id|> world", t.decode(parsed, new DecodeOptions(false, true)));
        assertTrue(t.isEndOfGeneration(eot));

        int[] tool = t.encode("<tool>hello", false);
        assertArrayEquals(new int[] {v.id("<tool>"), v.id("hello")}, tool);
        assertEquals("<tool>hello", t.decode(tool));
    }

    @Test
    void randomTextRoundTrips() {
        SplittableRandom random = new SplittableRandom(4321);
        Tokenizer[] tokenizers = {words("llama-bpe").build(), words("qwen2").build(), words("gpt2").build()};
        for (int i = 0; i < 300; i++) {
            // the byte-level vocabulary spells any text, U+2581 included
            String s = RandomText.next(random, 40) + (random.nextInt(10) == 0 ? "▁" : "");
            for (Tokenizer t : tokenizers) {
                int[] ids = t.encode(s, false);
                assertEquals(s, t.decode(ids), () -> "round trip of '" + s + "' -> " + Arrays.toString(ids));
            }
        }
    }
}
