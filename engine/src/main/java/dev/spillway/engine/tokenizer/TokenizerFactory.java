package dev.spillway.engine.tokenizer;

import dev.spillway.engine.gguf.GgufValue;
import java.util.Map;

/** Picks the tokenizer for {@code tokenizer.ggml.model}. */
final class TokenizerFactory {

    private TokenizerFactory() {
    }

    static Tokenizer create(Map<String, GgufValue> metadata) {
        Metadata md = new Metadata(metadata);
        String model = md.string(Metadata.MODEL);
        if (model == null) {
            throw new TokenizerException("missing " + Metadata.MODEL + "; the model has no tokenizer metadata");
        }
        return switch (model) {
            case "llama" -> SpmTokenizer.create(md);
            case "gpt2" -> BpeTokenizer.create(md);
            default -> throw new TokenizerException(Metadata.MODEL + " = \"" + model
                    + "\" is not supported; Spillway supports \"llama\" (SentencePiece BPE) and \"gpt2\" (byte-level BPE)");
        };
    }
}
