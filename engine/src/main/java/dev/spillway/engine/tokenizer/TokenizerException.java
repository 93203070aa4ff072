package dev.spillway.engine.tokenizer;

/**
 * The tokenizer metadata of a model is missing, malformed or describes a tokenizer Spillway does
 * not support. The message names the offending {@code tokenizer.ggml.*} key and value.
 */
public class TokenizerException extends IllegalArgumentException {

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
