package dev.spillway.engine.tokenizer;

/**
 * Streaming detokenizer: turns token ids into text one at a time, holding back the bytes of a
 * UTF-8 character that is split over several tokens (e.g. an emoji spelled as four byte tokens)
 * until it is complete. Not thread-safe; one per stream.
 */
public interface Decoder {

    /**
     * Appends one token.
     *
     * @return the text completed by this token (possibly empty); bytes that cannot start or continue
     *     a valid UTF-8 sequence come out as U+FFFD at once
     * @throws IllegalArgumentException if {@code id} is not in the vocabulary
     */
    String push(int id);

    /**
     * Flushes what is held back: an incomplete UTF-8 sequence left at the end becomes U+FFFD. The
     * decoder is then ready for a new stream with the same options.
     */
    String finish();
}
