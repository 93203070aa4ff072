package dev.spillway.engine.tokenizer;

import dev.spillway.engine.gguf.GgufValue;
import java.util.Map;

/**
 * Text to token ids and back, built from a model's {@code tokenizer.ggml.*} metadata. Two models
 * are supported, following llama.cpp's tokenizers:
 * <ul>
 *   <li>{@code llama}: SentencePiece-style BPE by token score, spaces spelled U+2581, byte fallback
 *       through {@code <0xXX>} tokens;</li>
 *   <li>{@code gpt2}: byte-level BPE by merge rank after a regex pre-tokenizer chosen by
 *       {@code tokenizer.ggml.pre}.</li>
 * </ul>
 *
 * <p>Special tokens: user-defined tokens that occur literally in the text are always encoded as
 * themselves (as llama.cpp and Hugging Face do with non-special added tokens); control tokens (and
 * the unknown token) only when {@code parseSpecial} is set. Where several match at one place the
 * longest wins. As in llama.cpp, a {@code llama} tokenizer with {@code add_space_prefix} puts the
 * space prefix before the text at the start and after each such token.
 *
 * <p>Decoding: control tokens render as nothing, unknown tokens as U+FFFD, unless
 * {@link DecodeOptions#renderSpecial()}. {@link #decode(int[])} treats its input as a whole text:
 * with {@code add_space_prefix} it drops the space the encoder prepended, so that
 * {@code decode(encode(s, bos)) == s} for plain text (a leading BOS renders as nothing and does not
 * count). llama.cpp's {@code llama_detokenize} keeps that space when a BOS comes first; Spillway
 * follows SentencePiece and Hugging Face here. {@link #newDecoder()} decodes a continuation and
 * strips nothing.
 *
 * <p>Instances are immutable and thread-safe; {@link Decoder}s are not.
 */
public interface Tokenizer {

    /**
     * Builds the tokenizer described by {@code tokenizer.ggml.model} and the keys beside it.
     *
     * @throws TokenizerException if the model is unsupported or its metadata is missing or malformed
     */
    static Tokenizer fromMetadata(Map<String, GgufValue> metadata) {
        return TokenizerFactory.create(metadata);
    }

    /** {@code tokenizer.ggml.model}: "llama" or "gpt2". */
    String model();

    int vocabSize();

    /** Beginning-of-sequence id, -1 if the model has none. */
    int bosId();

    /** End-of-sequence id, -1 if the model has none. */
    int eosId();

    /** Unknown-token id, -1 if the model has none. */
    int unknownId();

    /**
     * Whether prompts should start with BOS ({@code tokenizer.ggml.add_bos_token}; default true for
     * llama, false for gpt2). Always false when there is no BOS token.
     */
    boolean addBos();

    /** {@code tokenizer.ggml.add_eos_token} (default false). {@link #encode} never appends EOS itself. */
    boolean addEos();

    /**
     * Whether generation should stop at this token: EOS, {@code eot_token_id}, {@code eom_token_id},
     * and control tokens that mark the end of a turn or text ({@code <|eot_id|>}, {@code <|im_end|>},
     * {@code <|end_of_text|>}, {@code <|endoftext|>}, ...).
     */
    boolean isEndOfGeneration(int id);

    TokenType tokenType(int id);

    /** Encodes plain text: special tokens spelled out in it are not recognised (see class notes). */
    default int[] encode(String text, boolean addBos) {
        return encode(text, addBos, false);
    }

    /**
     * Encodes text.
     *
     * @param addBos prepend the BOS token (usually {@link #addBos()})
     * @param parseSpecial encode control tokens spelled out in the text (e.g. {@code <|eot_id|>}) as
     *     their ids
     * @throws IllegalStateException if {@code addBos} is set and the model has no BOS token
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Decodes a whole text with {@link DecodeOptions#TEXT}. */
    default String decode(int[] ids) {
        return decode(ids, DecodeOptions.TEXT);
    }

    default String decode(int[] ids, DecodeOptions options) {
        Decoder decoder = newDecoder(options);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(decoder.push(id));
        }
        return sb.append(decoder.finish()).toString();
    }

    /** The raw vocabulary string of a token, e.g. {@code ▁Once} or {@code <0x0A>}. */
    String piece(int id);

    /** A streaming decoder for a continuation ({@link DecodeOptions#CONTINUATION}). */
    default Decoder newDecoder() {
        return newDecoder(DecodeOptions.CONTINUATION);
    }

    Decoder newDecoder(DecodeOptions options);

    /**
     * Streaming detokenizer: turns token ids into text one at a time, holding back the bytes of a
     * UTF-8 character that is split over several tokens (e.g. an emoji spelled as four byte tokens)
     * until it is complete. Not thread-safe; one per stream.
     */
    interface Decoder {

        /**
         * Appends one token.
         *
         * @return the text completed by this token (possibly empty); bytes that cannot start or
         *     continue a valid UTF-8 sequence come out as U+FFFD at once
         * @throws IllegalArgumentException if {@code id} is not in the vocabulary
         */
        String push(int id);

        /**
         * Flushes what is held back: an incomplete UTF-8 sequence left at the end becomes U+FFFD.
         * The decoder is then ready for a new stream with the same options.
         */
        String finish();
    }
}
