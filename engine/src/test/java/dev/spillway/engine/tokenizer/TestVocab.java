package dev.spillway.engine.tokenizer;

import dev.spillway.engine.gguf.GgufArray;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.gguf.GgufValueType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Builds {@code tokenizer.ggml.*} metadata for synthetic vocabularies. */
final class TestVocab {
    private final String model;
    private final List<String> tokens = new ArrayList<>();
    private final List<Float> scores = new ArrayList<>();
    private final List<Integer> types = new ArrayList<>();
    private final List<String> merges = new ArrayList<>();
    private final Map<String, GgufValue> extra = new HashMap<>();

    private TestVocab(String model) {
        this.model = model;
    }

    /** An SPM vocabulary starting with {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2 and the 256 byte tokens 3..258. */
    static TestVocab spm() {
        TestVocab v = new TestVocab("llama");
        v.add("<unk>", 0, TokenType.UNKNOWN).add("<s>", 0, TokenType.CONTROL).add("</s>", 0, TokenType.CONTROL);
        for (int b = 0; b < 256; b++) {
            v.add(String.format(Locale.ROOT, "<0x%02X>", b), 0, TokenType.BYTE);
        }
        return v.set("tokenizer.ggml.unknown_token_id", GgufValue.ofUint32(0))
                .set("tokenizer.ggml.bos_token_id", GgufValue.ofUint32(1))
                .set("tokenizer.ggml.eos_token_id", GgufValue.ofUint32(2));
    }

    /** An SPM vocabulary with only {@code <unk>} 0 and {@code <s>} 1 (no byte tokens). */
    static TestVocab spmWithoutBytes() {
        TestVocab v = new TestVocab("llama");
        v.add("<unk>", 0, TokenType.UNKNOWN).add("<s>", 0, TokenType.CONTROL);
        return v.set("tokenizer.ggml.unknown_token_id", GgufValue.ofUint32(0))
                .set("tokenizer.ggml.bos_token_id", GgufValue.ofUint32(1));
    }

    /** A byte-level BPE vocabulary whose ids 0..255 are the byte characters of bytes 0..255. */
    static TestVocab gpt2(String pre) {
        TestVocab v = new TestVocab("gpt2");
        for (int b = 0; b < 256; b++) {
            v.add(String.valueOf(ByteLevel.charOf(b)), 0, TokenType.NORMAL);
        }
        return pre == null ? v : v.set("tokenizer.ggml.pre", GgufValue.ofString(pre));
    }

    TestVocab add(String token, float score, TokenType type) {
        tokens.add(token);
        scores.add(score);
        types.add(type.code());
        return this;
    }

    TestVocab add(String token, float score) {
        return add(token, score, TokenType.NORMAL);
    }

    /** Adds a merge rule "left right" and, if missing, the NORMAL token left+right. */
    TestVocab merge(String left, String right) {
        merges.add(left + " " + right);
        if (!tokens.contains(left + right)) {
            add(left + right, 0);
        }
        return this;
    }

    TestVocab set(String key, GgufValue value) {
        extra.put(key, value);
        return this;
    }

    int id(String token) {
        int id = tokens.indexOf(token);
        if (id < 0) {
            throw new IllegalArgumentException("no token " + token);
        }
        return id;
    }

    int size() {
        return tokens.size();
    }

    Map<String, GgufValue> metadata() {
        Map<String, GgufValue> md = new HashMap<>();
        md.put("tokenizer.ggml.model", GgufValue.ofString(model));
        md.put("tokenizer.ggml.tokens", array(GgufValueType.STRING, tokens.toArray(String[]::new)));
        float[] s = new float[scores.size()];
        int[] t = new int[types.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
            t[i] = types.get(i);
        }
        md.put("tokenizer.ggml.scores", array(GgufValueType.FLOAT32, s));
        md.put("tokenizer.ggml.token_type", array(GgufValueType.INT32, t));
        if (!merges.isEmpty() || model.equals("gpt2")) {
            md.put("tokenizer.ggml.merges", array(GgufValueType.STRING, merges.toArray(String[]::new)));
        }
        md.putAll(extra);
        return md;
    }

    Tokenizer build() {
        return Tokenizer.fromMetadata(metadata());
    }

    static GgufValue array(GgufValueType type, Object values) {
        return GgufValue.ofArray(new GgufArray(type, values));
    }
}
