package dev.spillway.engine.tokenizer;

/**
 * How token ids are turned back into text.
 *
 * @param stripLeadingSpace drop the space that the encoder prepended to the text
 *     ({@code tokenizer.ggml.add_space_prefix}) from the first token that renders any text; only
 *     meaningful when decoding from the start of a text, never for a continuation
 * @param renderSpecial render control and unknown tokens as their vocabulary text (e.g.
 *     {@code <s>}) instead of nothing (control) or U+FFFD (unknown)
 */
public record DecodeOptions(boolean stripLeadingSpace, boolean renderSpecial) {

    /** A whole text from its start: what {@link Tokenizer#decode(int[])} uses. */
    public static final DecodeOptions TEXT = new DecodeOptions(true, false);

    /** A continuation such as generated tokens after a prompt: what {@link Tokenizer#newDecoder()} uses. */
    public static final DecodeOptions CONTINUATION = new DecodeOptions(false, false);
}
