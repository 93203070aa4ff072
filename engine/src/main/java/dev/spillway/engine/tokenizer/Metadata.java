package dev.spillway.engine.tokenizer;

import dev.spillway.engine.gguf.GgufArray;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.gguf.GgufValueType;
import java.util.Map;
import java.util.Objects;

/** Typed, validated access to the {@code tokenizer.ggml.*} keys; every failure names its key. */
final class Metadata {
    static final String MODEL = "tokenizer.ggml.model";
    static final String PRE = "tokenizer.ggml.pre";
    static final String TOKENS = "tokenizer.ggml.tokens";
    static final String SCORES = "tokenizer.ggml.scores";
    static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    static final String MERGES = "tokenizer.ggml.merges";
    static final String BOS_ID = "tokenizer.ggml.bos_token_id";
    static final String EOS_ID = "tokenizer.ggml.eos_token_id";
    static final String UNK_ID = "tokenizer.ggml.unknown_token_id";
    static final String EOT_ID = "tokenizer.ggml.eot_token_id";
    static final String EOM_ID = "tokenizer.ggml.eom_token_id";
    static final String ADD_BOS = "tokenizer.ggml.add_bos_token";
    static final String ADD_EOS = "tokenizer.ggml.add_eos_token";
    static final String ADD_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix";

    /** A token id of -1, or 0xFFFFFFFF in a UINT32, means "none" in GGUF files. */
    private static final long NO_TOKEN_U32 = 0xFFFF_FFFFL;

    private final Map<String, GgufValue> values;

    Metadata(Map<String, GgufValue> values) {
        this.values = Objects.requireNonNull(values, "metadata");
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    /** The STRING at {@code key}, or null if absent. */
    String string(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            return null;
        }
        if (v.type() != GgufValueType.STRING) {
            throw wrongType(key, v, "a STRING");
        }
        return v.asString();
    }

    boolean bool(String key, boolean absent) {
        GgufValue v = values.get(key);
        if (v == null) {
            return absent;
        }
        if (v.type() != GgufValueType.BOOL) {
            throw wrongType(key, v, "a BOOL");
        }
        return v.asBool();
    }

    /** The STRING array at {@code key}, or null if absent. */
    String[] strings(String key) {
        GgufArray a = array(key);
        if (a == null) {
            return null;
        }
        if (a.elementType() != GgufValueType.STRING) {
            throw new TokenizerException(key + " must be an array of STRING, found an array of " + a.elementType());
        }
        return a.asStrings();
    }

    /** The float array at {@code key} with {@code length} elements, or null if absent. */
    float[] floats(String key, int length) {
        GgufArray a = array(key);
        if (a == null) {
            return null;
        }
        if (a.elementType() != GgufValueType.FLOAT32 && a.elementType() != GgufValueType.FLOAT64) {
            throw new TokenizerException(key + " must be an array of FLOAT32, found an array of " + a.elementType());
        }
        checkLength(key, a, length);
        return a.asFloats();
    }

    /** The integer array at {@code key} with {@code length} elements, or null if absent. */
    int[] ints(String key, int length) {
        GgufArray a = array(key);
        if (a == null) {
            return null;
        }
        try {
            checkLength(key, a, length);
            return a.asInts();
        } catch (IllegalStateException e) {
            throw new TokenizerException(key + " must be an array of INT32, found an array of " + a.elementType(), e);
        }
    }

    /**
     * A token id: -1 when absent or set to -1 / 0xFFFFFFFF (GGUF's "none").
     *
     * @throws TokenizerException if it is not an integer or lies outside the vocabulary
     */
    int tokenId(String key, int vocabSize) {
        GgufValue v = values.get(key);
        if (v == null) {
            return -1;
        }
        if (!v.isInteger()) {
            throw wrongType(key, v, "an integer");
        }
        long id;
        try {
            id = v.asLong();
        } catch (IllegalStateException e) { // a UINT64 beyond Long.MAX_VALUE
            throw new TokenizerException(key + " = " + v.display(0) + " is not a token id", e);
        }
        if (id == -1 || id == NO_TOKEN_U32) {
            return -1;
        }
        if (id < 0 || id >= vocabSize) {
            throw new TokenizerException(key + " = " + id + " lies outside the vocabulary of " + vocabSize + " tokens");
        }
        return (int) id;
    }

    private GgufArray array(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            return null;
        }
        if (v.type() != GgufValueType.ARRAY) {
            throw wrongType(key, v, "an ARRAY");
        }
        return v.asArray();
    }

    private static void checkLength(String key, GgufArray a, int length) {
        if (a.length() != length) {
            throw new TokenizerException(key + " has " + a.length() + " elements but " + TOKENS + " has " + length);
        }
    }

    private static TokenizerException wrongType(String key, GgufValue v, String expected) {
        return new TokenizerException(key + " must be " + expected + ", found " + v.type() + " " + v.display(3));
    }
}
