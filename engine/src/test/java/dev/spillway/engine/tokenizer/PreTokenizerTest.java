package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {

    private static void assertSplit(PreTokenizer pre, String text, String... words) {
        assertEquals(List.of(words), pre.split(text), () -> pre + " split of '" + text + "'");
    }

    @Test
    void digitsAreGroupedByThreeForLlama3AndSingleForQwen2() {
        assertSplit(PreTokenizer.LLAMA3, "12345", "123", "45");
        assertSplit(PreTokenizer.QWEN2, "12345", "1", "2", "3", "4", "5");
        assertSplit(PreTokenizer.GPT2, "12345", "12345");
        assertSplit(PreTokenizer.LLAMA3, "x 2024", "x", " ", "202", "4");
        assertSplit(PreTokenizer.GPT2, "x 2024", "x", " 2024");
    }

    @Test
    void contractions() {
        assertSplit(PreTokenizer.LLAMA3, "I'm you'LL", "I", "'m", " you", "'LL");
        assertSplit(PreTokenizer.QWEN2, "don'T", "don", "'T");
        assertSplit(PreTokenizer.GPT2, "I'm I'M", "I", "'m", " I", "'", "M");
        assertSplit(PreTokenizer.LLAMA3, "'ſ", "'ſ"); // no Unicode case folding of the s
    }

    @Test
    void letterRunsTakeOneLeadingNonLetter() {
        assertSplit(PreTokenizer.LLAMA3, "Hello world", "Hello", " world");
        assertSplit(PreTokenizer.GPT2, "Hello world", "Hello", " world");
        assertSplit(PreTokenizer.LLAMA3, "$hello (x)", "$hello", " (", "x", ")");
        assertSplit(PreTokenizer.GPT2, "$hello", "$", "hello");
    }

    @Test
    void whitespaceRules() {
        // a run of spaces leaves its last one to the following word
        assertSplit(PreTokenizer.LLAMA3, "a   b", "a", "  ", " b");
        assertSplit(PreTokenizer.GPT2, "a   b", "a", "  ", " b");
        assertSplit(PreTokenizer.LLAMA3, "a  ", "a", "  ");
        // Llama 3 keeps runs ending in newlines together and lets punctuation take trailing newlines
        assertSplit(PreTokenizer.LLAMA3, "a\n\nb", "a", "\n\n", "b");
        assertSplit(PreTokenizer.GPT2, "a\n\nb", "a", "\n", "\n", "b");
        assertSplit(PreTokenizer.LLAMA3, "hi!!\n\n  x", "hi", "!!\n\n", " ", " x");
        assertSplit(PreTokenizer.LLAMA3, "a \n\tb", "a", " \n", "\tb");
        // \s is Unicode White_Space: without it, U+3000 would count as punctuation and stay in one word
        assertSplit(PreTokenizer.GPT2, "a\u3000\u3000b", "a", "\u3000", "\u3000", "b");
    }

    @Test
    void namesMapToPatterns() {
        assertEquals(PreTokenizer.LLAMA3, PreTokenizer.forName("llama-bpe"));
        assertEquals(PreTokenizer.LLAMA3, PreTokenizer.forName("llama3"));
        assertEquals(PreTokenizer.QWEN2, PreTokenizer.forName("qwen2"));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName("default"));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName("gpt2"));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName(null));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName("some-future-model"), "unknown: warn and fall back");
    }

    @Test
    void wordsSpellTheWholeText() {
        SplittableRandom random = new SplittableRandom(99);
        for (int i = 0; i < 300; i++) {
            String s = RandomText.next(random, 40);
            for (PreTokenizer pre : PreTokenizer.values()) {
                List<String> words = pre.split(s);
                assertEquals(s, String.join("", words), pre + " on '" + s + "'");
                words.forEach(w -> assertEquals(false, w.isEmpty()));
            }
        }
    }
}
