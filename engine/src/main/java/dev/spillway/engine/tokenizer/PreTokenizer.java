package dev.spillway.engine.tokenizer;

import dev.spillway.engine.util.Printable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The regex that splits text into words before byte-level BPE, chosen by {@code tokenizer.ggml.pre}.
 * Patterns are compiled with {@link Pattern#UNICODE_CHARACTER_CLASS}, so {@code \s} is Unicode
 * White_Space as in the reference implementations; the case-insensitive contractions of the Llama 3
 * pattern are spelled with ASCII classes ({@code '[sS]}), which is what {@code (?i:'s|...)} means
 * there and keeps Java from also matching e.g. U+017F for {@code s}.
 */
enum PreTokenizer {
    /** GPT-2: {@code tokenizer.ggml.pre} "default", "gpt2", "gpt-2" or absent. */
    GPT2("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", false),
    /**
     * Llama 3: "llama-bpe", "llama3" (and "smaug-bpe", "dbrx", which use the same pattern). Its
     * tokenizer ignores merges for a word that is a token as a whole ({@code ignore_merges}).
     */
    LLAMA3(llama3Style("\\p{N}{1,3}"), true),
    /** Qwen 2: "qwen2", "deepseek-r1-qwen": as Llama 3 but digits one at a time. */
    QWEN2(llama3Style("\\p{N}"), false);

    private static final System.Logger LOG = System.getLogger(PreTokenizer.class.getName());

    private final Pattern pattern;
    private final boolean ignoreMerges;

    PreTokenizer(String regex, boolean ignoreMerges) {
        this.pattern = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        this.ignoreMerges = ignoreMerges;
    }

    /** Whether a word that is a token as a whole becomes that token without going through the merges. */
    boolean ignoresMerges() {
        return ignoreMerges;
    }

    private static String llama3Style(String numbers) {
        return "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])"
                + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
                + "|" + numbers
                + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                + "|\\s*[\\r\\n]+"
                + "|\\s+(?!\\S)"
                + "|\\s+";
    }

    /** The pre-tokenizer for a {@code tokenizer.ggml.pre} value; unknown names fall back to GPT-2 with a warning. */
    static PreTokenizer forName(String pre) {
        if (pre == null) {
            return GPT2;
        }
        return switch (pre.toLowerCase(Locale.ROOT)) {
            case "default", "gpt2", "gpt-2" -> GPT2;
            case "llama-bpe", "llama3", "smaug-bpe", "dbrx" -> LLAMA3;
            case "qwen2", "deepseek-r1-qwen" -> QWEN2;
            default -> {
                LOG.log(System.Logger.Level.WARNING,
                        "{0} = \"{1}\" is not supported; splitting words with the GPT-2 pattern, so tokens may"
                                + " differ from the model''s own tokenizer", Metadata.PRE, Printable.escape(pre));
                yield GPT2;
            }
        };
    }

    /** The words of {@code text}, in order; together they spell the whole text. */
    List<String> split(String text) {
        List<String> words = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) { // not reached with these patterns, which match every character
                words.add(text.substring(last, m.start()));
            }
            words.add(m.group());
            last = m.end();
        }
        if (last < text.length()) {
            words.add(text.substring(last));
        }
        return words;
    }
}
