package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufValue;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SpmTokenizerTest {
    private static final int BYTE0 = 3; // TestVocab.spm(): <0x00> is id 3

    /** The spm() vocabulary with a few pieces, for tests that need no particular merges. */
    private static TestVocab small() {
        return TestVocab.spm().add("▁", -1).add("a", -2).add("b", -2).add("▁a", -3).add("ab", -4).add("▁b", -5);
    }

    private static TestVocab noSpacePrefix() {
        return TestVocab.spm().set("tokenizer.ggml.add_space_prefix", GgufValue.ofBool(false));
    }

    private static int[] ids(TestVocab v, String... pieces) {
        return Arrays.stream(pieces).mapToInt(v::id).toArray();
    }

    @Test
    void higherScoringPairMergesFirst() {
        TestVocab bcFirst = noSpacePrefix().add("a", -1).add("b", -1).add("c", -1).add("ab", -5).add("bc", -1);
        assertArrayEquals(ids(bcFirst, "a", "bc"), bcFirst.build().encode("abc", false));

        TestVocab abFirst = noSpacePrefix().add("a", -1).add("b", -1).add("c", -1).add("ab", -1).add("bc", -5);
        assertArrayEquals(ids(abFirst, "ab", "c"), abFirst.build().encode("abc", false));
    }

    @Test
    void mergedSymbolsKeepMerging() {
        // "abc" scores worst of all, but only becomes a candidate once "bc" exists
        TestVocab v = noSpacePrefix().add("a", -1).add("b", -1).add("c", -1).add("ab", -5).add("bc", -1)
                .add("abc", -20);
        assertArrayEquals(ids(v, "abc"), v.build().encode("abc", false));
    }

    @Test
    void equalScoresMergeLeftmostFirst() {
        TestVocab v = noSpacePrefix().add("a", -1).add("aa", -1);
        Tokenizer t = v.build();
        assertArrayEquals(ids(v, "aa", "a"), t.encode("aaa", false));
        assertArrayEquals(ids(v, "aa", "aa"), t.encode("aaaa", false));
    }

    @Test
    void spacesBecomeMarksAndTextGetsASpacePrefix() {
        TestVocab v = small();
        Tokenizer t = v.build();
        assertArrayEquals(ids(v, "▁a"), t.encode("a", false));
        assertArrayEquals(ids(v, "▁a", "▁b"), t.encode("a b", false));
        assertArrayEquals(ids(v, "▁", "▁a"), t.encode(" a", false));

        TestVocab plain = noSpacePrefix().add("▁", -1).add("a", -2).add("▁a", -3);
        assertArrayEquals(ids(plain, "a"), plain.build().encode("a", false));
        assertArrayEquals(ids(plain, "▁a"), plain.build().encode(" a", false));
    }

    @Test
    void charactersWithoutTokensFallBackToBytes() {
        TestVocab v = small();
        int[] expected = {v.id("▁a"), BYTE0 + 0xF0, BYTE0 + 0x9F, BYTE0 + 0x98, BYTE0 + 0x80, BYTE0 + '\n'};
        assertArrayEquals(expected, v.build().encode("a😀\n", false));
    }

    @Test
    void charactersWithoutTokensOrByteTokensBecomeUnknown() {
        TestVocab v = TestVocab.spmWithoutBytes().add("▁", -1).add("a", -2);
        Tokenizer t = v.build();
        assertArrayEquals(new int[] {v.id("▁"), v.id("a"), 0, 0}, t.encode("a€😀", false));
        assertEquals("a\uFFFD\uFFFD", t.decode(t.encode("a€😀", false)));
    }

    @Test
    void bosIsPrependedOnRequestAndEmptyTextHasNoOtherTokens() {
        Tokenizer t = small().build();
        assertTrue(t.addBos(), "llama vocabularies add BOS by default");
        assertArrayEquals(new int[] {1}, t.encode("", true));
        assertArrayEquals(new int[0], t.encode("", false));
        assertEquals(1, t.encode("ab", true)[0]);
        assertFalse(small().set("tokenizer.ggml.add_bos_token", GgufValue.ofBool(false)).build().addBos());
    }

    @Test
    void specialTokensAreParsedOnlyWhenAsked() {
        TestVocab v = small();
        Tokenizer t = v.build();
        // as llama.cpp: the text after a special token gets the space prefix again
        assertArrayEquals(ids(v, "▁a", "</s>", "▁b"), t.encode("a</s>b", false, true));
        int[] plain = t.encode("a</s>b", false, false);
        assertTrue(Arrays.stream(plain).noneMatch(id -> id == v.id("</s>")), Arrays.toString(plain));
        assertEquals("a</s>b", t.decode(plain));
        assertArrayEquals(ids(v, "<s>", "▁a"), t.encode("<s>a", false, true));
    }

    @Test
    void userDefinedTokensAreAlwaysMatched() {
        TestVocab v = small().add("<br>", 0, TokenType.USER_DEFINED);
        Tokenizer t = v.build();
        assertArrayEquals(ids(v, "▁a", "<br>", "▁b"), t.encode("a<br>b", false));
        assertEquals("a<br> b", t.decode(t.encode("a<br>b", false)), "user-defined tokens render as their text");
    }

    @Test
    void decodeTurnsMarksIntoSpacesAndDropsThePrefixSpace() {
        TestVocab v = small();
        Tokenizer t = v.build();
        int[] ids = {1, v.id("▁a"), v.id("▁b"), BYTE0 + 0xC3, BYTE0 + 0xA9, 2};
        assertEquals("a bé", t.decode(ids));
        assertEquals(" a bé", t.decode(ids, DecodeOptions.CONTINUATION));
        assertEquals("<s> a bé</s>", t.decode(ids, new DecodeOptions(true, true)));
        assertEquals("\uFFFD", t.decode(new int[] {0}));
        assertEquals("<unk>", t.decode(new int[] {0}, new DecodeOptions(true, true)));
        assertEquals("▁a", t.piece(v.id("▁a")));
        assertEquals("<0x0A>", t.piece(BYTE0 + '\n'));
        assertEquals(TokenType.BYTE, t.tokenType(BYTE0));
    }

    @Test
    void onlyOneLeadingSpaceIsDropped() {
        Tokenizer t = small().build();
        for (String s : new String[] {"  a", " ", "\na", "a ", "\t b"}) {
            assertEquals(s, t.decode(t.encode(s, true)), "round trip of '" + s + "'");
        }
    }

    @Test
    void randomTextRoundTrips() {
        SplittableRandom random = new SplittableRandom(1234);
        Tokenizer[] tokenizers = {
            small().build(),
            noSpacePrefix().add("▁", -1).add("a", -2).add("é", -2).add("▁a", -3).build(),
        };
        for (int i = 0; i < 400; i++) {
            String s = RandomText.next(random, 30);
            for (Tokenizer t : tokenizers) {
                boolean bos = random.nextBoolean();
                int[] ids = t.encode(s, bos);
                assertEquals(s, t.decode(ids), () -> "round trip of '" + s + "' -> " + Arrays.toString(ids));
            }
        }
    }

    @Test
    void endOfGenerationTokens() {
        TestVocab v = small().add("<|eot_id|>", 0, TokenType.CONTROL).add("<|im_end|>", 0, TokenType.NORMAL)
                .add("<turn>", 0, TokenType.CONTROL);
        v.set("tokenizer.ggml.eot_token_id", GgufValue.ofInt32(v.id("<turn>")));
        Tokenizer t = v.build();
        assertTrue(t.isEndOfGeneration(2), "eos");
        assertTrue(t.isEndOfGeneration(v.id("<|eot_id|>")), "end marker of type control");
        assertTrue(t.isEndOfGeneration(v.id("<turn>")), "eot_token_id");
        assertFalse(t.isEndOfGeneration(v.id("<|im_end|>")), "a normal token is text, whatever its spelling");
        assertFalse(t.isEndOfGeneration(1));
        assertFalse(t.isEndOfGeneration(v.id("▁a")));
        assertFalse(t.isEndOfGeneration(-1));
    }

    @Test
    void idsOutsideTheVocabularyAreRejected() {
        Tokenizer t = small().build();
        assertThrows(IllegalArgumentException.class, () -> t.piece(t.vocabSize()));
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> t.newDecoder().push(t.vocabSize()));
    }
}
