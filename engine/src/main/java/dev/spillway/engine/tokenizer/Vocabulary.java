package dev.spillway.engine.tokenizer;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/** Token strings, types and scores from the metadata, with text-to-id lookups. */
final class Vocabulary {
    private final String[] tokens;
    private final TokenType[] types;
    private final float[] scores;
    /** Text of NORMAL tokens to id (first occurrence wins): the pieces plain text is spelled with. */
    private final Map<String, Integer> textIds;
    /** Text of any token to id (first occurrence wins). */
    private final Map<String, Integer> anyIds;

    private Vocabulary(String[] tokens, TokenType[] types, float[] scores) {
        this.tokens = tokens;
        this.types = types;
        this.scores = scores;
        this.textIds = HashMap.newHashMap(tokens.length);
        this.anyIds = HashMap.newHashMap(tokens.length);
        for (int id = 0; id < tokens.length; id++) {
            anyIds.putIfAbsent(tokens[id], id);
            if (types[id].isText()) {
                textIds.putIfAbsent(tokens[id], id);
            }
        }
    }

    /**
     * Reads tokens, token types (default NORMAL) and scores (default 0).
     *
     * @param inferByteTokens whether, without a token_type array, {@code <0xXX>} tokens count as BYTE
     */
    static Vocabulary read(Metadata md, boolean inferByteTokens) {
        String[] tokens = md.strings(Metadata.TOKENS);
        if (tokens == null) {
            throw new TokenizerException("missing " + Metadata.TOKENS);
        }
        if (tokens.length == 0) {
            throw new TokenizerException(Metadata.TOKENS + " is empty");
        }
        int n = tokens.length;
        for (int id = 0; id < n; id++) {
            if (tokens[id] == null) {
                throw new TokenizerException(Metadata.TOKENS + "[" + id + "] is null");
            }
        }
        TokenType[] types = new TokenType[n];
        int[] codes = md.ints(Metadata.TOKEN_TYPE, n);
        for (int id = 0; id < n; id++) {
            if (codes != null) {
                try {
                    types[id] = TokenType.ofCode(codes[id]);
                } catch (IllegalArgumentException e) {
                    throw new TokenizerException(Metadata.TOKEN_TYPE + "[" + id + "] = " + codes[id]
                            + " is not a token type (1 normal .. 6 byte)", e);
                }
            } else {
                types[id] = inferByteTokens && byteValue(tokens[id]) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
            }
        }
        float[] scores = md.floats(Metadata.SCORES, n);
        return new Vocabulary(tokens, types, scores == null ? new float[n] : scores);
    }

    int size() {
        return tokens.length;
    }

    String token(int id) {
        return tokens[id];
    }

    TokenType type(int id) {
        return types[id];
    }

    float score(int id) {
        return scores[id];
    }

    /** Id of the NORMAL token spelled {@code text}, or -1. */
    int textId(String text) {
        Integer id = textIds.get(text);
        return id == null ? -1 : id;
    }

    /** Id of any token spelled {@code text}, or -1. */
    int anyId(String text) {
        Integer id = anyIds.get(text);
        return id == null ? -1 : id;
    }

    /**
     * For each byte value, the id of its {@code <0xXX>} token (preferring type BYTE), or -1.
     */
    int[] byteTokenIds() {
        int[] ids = new int[256];
        Arrays.fill(ids, -1);
        for (int id = 0; id < tokens.length; id++) {
            int b = byteValue(tokens[id]);
            if (b >= 0 && (ids[b] < 0 || types[id] == TokenType.BYTE && types[ids[b]] != TokenType.BYTE)) {
                ids[b] = id;
            }
        }
        return ids;
    }

    /** The byte a {@code <0xXX>} spelling stands for (hex digits in either case), or -1. */
    static int byteValue(String token) {
        if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') {
            return -1;
        }
        int hi = hexDigit(token.charAt(3));
        int lo = hexDigit(token.charAt(4));
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    }

    void checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + tokens.length + ")");
        }
    }
}
