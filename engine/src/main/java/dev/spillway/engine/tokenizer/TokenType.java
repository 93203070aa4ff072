package dev.spillway.engine.tokenizer;

/** Token types as stored in {@code tokenizer.ggml.token_type} (llama.cpp's {@code llama_token_type}). */
public enum TokenType {
    /** 0: written by some converters for "no type"; treated like {@link #NORMAL}. */
    UNDEFINED(0),
    NORMAL(1),
    UNKNOWN(2),
    CONTROL(3),
    USER_DEFINED(4),
    UNUSED(5),
    /** A single raw byte, spelled {@code <0xXX>} in SentencePiece vocabularies. */
    BYTE(6);

    private final int code;

    TokenType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** Whether ordinary text can be spelled with this token (the pieces the merge step may produce). */
    boolean isText() {
        return this == NORMAL || this == UNDEFINED;
    }

    static TokenType ofCode(int code) {
        for (TokenType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown token type " + code);
    }
}
