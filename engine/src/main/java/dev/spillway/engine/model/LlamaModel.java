package dev.spillway.engine.model;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.tokenizer.Tokenizer;
import java.io.IOException;

/**
 * A loaded llama model: the open GGUF file, its configuration and tokenizer, and its weights on the
 * backends of a {@link Placement}. Owns the weights and, once loaded, the file (closing the model
 * unmaps it); the backends belong to whoever created them and must outlive the model.
 */
public final class LlamaModel implements AutoCloseable {
    private final GgufFile file;
    private final LlamaConfig config;
    private final Tokenizer tokenizer;
    private final LlamaWeights weights;
    private final LlamaGraph graph;
    private boolean closed;

    private LlamaModel(GgufFile file, LlamaConfig config, Tokenizer tokenizer, LlamaWeights weights, Placement placement) {
        this.file = file;
        this.config = config;
        this.tokenizer = tokenizer;
        this.weights = weights;
        this.graph = new LlamaGraph(config, weights, placement);
    }

    /**
     * Loads the weights of {@code file} as {@code placement} says. On success the model owns
     * {@code file}; on failure nothing stays allocated and the caller still owns {@code file}.
     */
    public static LlamaModel load(GgufFile file, LlamaConfig config, Placement placement, LlamaWeights.Progress progress)
            throws IOException {
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizer.fromMetadata(file.metadata());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidModelException(file.path(), "tokenizer: " + e.getMessage());
        }
        if (tokenizer.vocabSize() != config.vocabSize()) {
            throw new InvalidModelException(file.path(), "tokenizer has " + tokenizer.vocabSize()
                    + " tokens but token_embd.weight has " + config.vocabSize() + " rows");
        }
        LlamaWeights weights = LlamaWeights.load(file, config, placement, progress);
        return new LlamaModel(file, config, tokenizer, weights, placement);
    }

    public GgufFile file() {
        return file;
    }

    public LlamaConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public LlamaGraph graph() {
        return graph;
    }

    public Placement placement() {
        return graph.placement();
    }

    /** Bytes of the file's tensors. */
    public long modelBytes() {
        return LlamaWeights.fileBytes(file);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            weights.close();
        } finally {
            file.close();
        }
    }
}
