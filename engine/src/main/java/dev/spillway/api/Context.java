package dev.spillway.api;

import dev.spillway.engine.gguf.MappedFileChangedException;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.Workspace;
import dev.spillway.engine.sampling.Sampler;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One conversation with a model: its KV cache, activation buffers and sampler. Several contexts
 * can share a model. A context is used by one thread at a time.
 *
 * <p>{@link #generate} continues from where the context stands, so consecutive calls form one
 * conversation; {@link #clear()} starts over without reallocating anything. Create contexts with
 * {@code Model.newContext}; close them (or the model) to free their memory.
 */
public final class Context implements AutoCloseable {
    private final LlamaModel model;
    private final ContextParams params;
    private final Workspace workspace;
    private final Runnable onClose;
    private final float[] logits;          // (n_vocab) logits of the last evaluated token
    private float[] batchLogits;           // (n_batch, n_vocab) for evaluateAll, allocated by its first call
    private int position;                  // tokens in the KV cache
    private int pendingToken = -1;         // sampled but not yet evaluated
    private Sampler sampler;               // created by the first generate
    private boolean hasLogits;
    private volatile boolean closed;   // set by close(), which may run on the model's closing thread

    /**
     * Allocates the context's memory on the model's backends.
     *
     * @param onClose called once when the context closes (the owning model forgets it)
     */
    public Context(LlamaModel model, ContextParams params, Runnable onClose) {
        this.model = Objects.requireNonNull(model, "model");
        this.params = Objects.requireNonNull(params, "params");
        this.onClose = Objects.requireNonNull(onClose, "onClose");
        Workspace.Shape shape = shapeFor(model.config().contextLength(), params);
        this.logits = new float[model.config().vocabSize()];
        this.workspace = model.newWorkspace(shape);
    }

    /**
     * The workspace a context of {@code params} allocates for a model trained with
     * {@code trainedContext} tokens: {@link ContextParams#cacheRows} rows, batches of at most that.
     */
    public static Workspace.Shape shapeFor(int trainedContext, ContextParams params) {
        int rows = params.cacheRows(trainedContext);
        return new Workspace.Shape(rows, Math.min(params.batchSize(), rows), params.keyType(), params.valueType(),
                params.allLogits());
    }

    public ContextParams params() {
        return params;
    }

    public Tokenizer tokenizer() {
        return model.tokenizer();
    }

    /** Positions the context holds. */
    public int contextSize() {
        return workspace.contextSize();
    }

    /** Tokens in the KV cache so far. */
    public int position() {
        return position;
    }

    /** Tokenizes text, adding BOS when the context is empty and the model wants it. */
    public int[] tokenize(String text) {
        Tokenizer t = model.tokenizer();
        return t.encode(text, position == 0 && pendingToken < 0 && t.addBos());
    }

    /**
     * Evaluates tokens after what the context holds and returns a copy of the last token's logits.
     *
     * @throws IllegalArgumentException if they do not fit in the context or an id is out of range
     */
    public float[] evaluate(int[] tokens) {
        float[] out = new float[logits.length];
        evaluate(tokens, out);
        return out;
    }

    /**
     * Evaluates tokens after what the context holds and copies the last token's logits into
     * {@code logitsOut} (at least n_vocab long), allocating nothing per call.
     */
    public void evaluate(int[] tokens, float[] logitsOut) {
        ensureOpen();
        if (logitsOut.length < logits.length) {
            throw new IllegalArgumentException("logits array holds " + logitsOut.length + ", vocabulary is " + logits.length);
        }
        evaluateInternal(withPending(tokens));
        System.arraycopy(logits, 0, logitsOut, 0, logits.length);
    }

    /**
     * Evaluates tokens after what the context holds and writes the logits of every one of them into
     * {@code logitsOut}: row i ({@code logitsOut[i*n_vocab .. (i+1)*n_vocab)}) holds what the model
     * predicts after token i. The context must have been created with {@link ContextParams#allLogits}.
     * Afterwards {@code generate} continues after the last token as after {@link #evaluate}.
     *
     * @throws IllegalStateException    if the context was created without {@code allLogits}
     * @throws IllegalArgumentException if {@code logitsOut} is shorter than tokens × n_vocab, or as {@link #evaluate}
     */
    public void evaluateAll(int[] tokens, float[] logitsOut) {
        ensureOpen();
        if (!params.allLogits()) {
            throw new IllegalStateException("evaluateAll needs a context created with ContextParams.withAllLogits(true)");
        }
        int vocab = logits.length;
        if (logitsOut.length < (long) tokens.length * vocab) {
            throw new IllegalArgumentException("logits array holds " + logitsOut.length + ", " + tokens.length
                    + " tokens × vocabulary " + vocab + " need " + (long) tokens.length * vocab);
        }
        if (batchLogits == null) {
            batchLogits = new float[Math.multiplyExact(workspace.batchSize(), vocab)];
        }
        evaluateInternal(withPending(tokens), tokens.length, logitsOut);
    }

    /** Generates up to {@code maxTokens} tokens after {@code prompt} with the context's sampling settings. */
    public GenerationResult generate(String prompt, int maxTokens) {
        return generate(prompt, maxTokens, params.sampling(), (id, text) -> { });
    }

    /** Streaming form: {@code listener} receives text as each token is generated. */
    public GenerationResult generate(String prompt, int maxTokens, TokenListener listener) {
        return generate(prompt, maxTokens, params.sampling(), listener);
    }

    /**
     * Generates up to {@code maxTokens} tokens after {@code prompt}, streaming them to {@code listener}.
     * Stops early at an end-of-generation token or when the context is full.
     */
    public GenerationResult generate(String prompt, int maxTokens, SamplingParams sampling, TokenListener listener) {
        ensureOpen();
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must not be negative, got " + maxTokens);
        }
        Objects.requireNonNull(listener, "listener");
        Tokenizer tokenizer = model.tokenizer();
        int[] promptTokens = withPending(tokenize(prompt));
        if (promptTokens.length == 0 && !hasLogits) {
            throw new IllegalArgumentException("empty prompt and nothing evaluated yet: there is nothing to continue from");
        }
        Sampler sampler = samplerFor(sampling);
        for (int t : promptTokens) {
            sampler.accept(t);
        }

        long t0 = System.nanoTime();
        evaluateInternal(promptTokens);
        long t1 = System.nanoTime();

        Tokenizer.Decoder decoder = tokenizer.newDecoder();
        StringBuilder text = new StringBuilder();
        // At most one token per free position plus the last one sampled (never evaluated): maxTokens may be huge.
        int[] generated = new int[(int) Math.min(maxTokens, (long) contextSize() - position + 1)];
        int count = 0;
        int passes = 0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (count < maxTokens) {
            if (count > 0) {
                if (position >= contextSize()) {
                    reason = capped() ? StopReason.CACHE_LIMIT : StopReason.CONTEXT_FULL;
                    break;
                }
                evaluateInternal(new int[] {pendingToken});
                passes++;
            }
            int id = sampler.sample(logits);
            sampler.accept(id);
            if (tokenizer.isEndOfGeneration(id)) {
                reason = StopReason.END_OF_GENERATION;
                break;
            }
            generated[count++] = id;
            pendingToken = id;
            String piece = decoder.push(id);
            text.append(piece);
            listener.onToken(id, piece);
        }
        String rest = decoder.finish();
        if (!rest.isEmpty()) {
            text.append(rest);
            listener.onToken(-1, rest);
        }
        long t2 = System.nanoTime();
        return new GenerationResult(text.toString(), Arrays.copyOf(generated, count), promptTokens.length, reason,
                t1 - t0, passes, t2 - t1);
    }

    /**
     * The context's sampler, kept across {@code generate} calls so that the random stream goes on and
     * the repetition penalty sees earlier turns; replaced when other sampling settings are asked for.
     */
    private Sampler samplerFor(SamplingParams sampling) {
        if (sampler == null || !sampler.params().equals(sampling)) {
            sampler = new Sampler(sampling, model.config().vocabSize());
        }
        return sampler;
    }

    /**
     * Forgets the conversation: the sampler restarts from its seed and the KV cache, kept allocated,
     * is simply overwritten.
     */
    public void clear() {
        ensureOpen();
        position = 0;
        pendingToken = -1;
        hasLogits = false;
        if (sampler != null) {
            sampler.reset();
        }
    }

    /** Whether {@link ContextParams#maxCacheTokens} made the cache smaller than the context. */
    private boolean capped() {
        return params.maxCacheTokens() > 0
                && params.maxCacheTokens() < params.effectiveContextSize(model.config().contextLength());
    }

    /**
     * Memory per budget (each device and the host): the model's weights, this context's KV cache and
     * activations, and each budget's size, use and free bytes.
     */
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(model.memoryPools(List.of(workspace), false), model.modelBytes(), position, contextSize());
    }

    /** Prepends the token a previous {@code generate} sampled but did not evaluate. */
    private int[] withPending(int[] tokens) {
        if (pendingToken < 0) {
            return tokens;
        }
        int[] all = new int[tokens.length + 1];
        all[0] = pendingToken;
        System.arraycopy(tokens, 0, all, 1, tokens.length);
        return all;
    }

    private void evaluateInternal(int[] tokens) {
        evaluateInternal(tokens, 0, null);
    }

    /**
     * Runs the tokens in batches. With {@code allOut}, the logits of the last {@code rowsOut} tokens
     * (the caller's; a pending token may precede them) go to {@code allOut}, one row each.
     */
    private void evaluateInternal(int[] tokens, int rowsOut, float[] allOut) {
        if (tokens.length == 0) {
            return;
        }
        if (position + tokens.length > contextSize()) {
            throw new IllegalArgumentException(tokens.length + " tokens do not fit: the "
                    + (capped() ? "KV cache is capped at " + contextSize() + " tokens (maxCacheTokens)" : "context holds " + contextSize())
                    + " and " + position + " are used (raise -c/--ctx-size or clear the context)");
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at index " + i
                        + " is outside the vocabulary 0.." + (vocab - 1));
            }
        }
        int batch = workspace.batchSize();
        int skip = tokens.length - rowsOut;   // leading tokens whose logits nobody asked for
        model.forwardLock().lock();
        try {
            ensureOpen();   // closed by the model on another thread while this one waited
            for (int off = 0; off < tokens.length; off += batch) {
                int n = Math.min(batch, tokens.length - off);
                try {
                    if (allOut == null) {
                        model.graph().forward(workspace, tokens, off, n, position, logits);
                    } else {
                        model.graph().forwardAll(workspace, tokens, off, n, position, batchLogits);
                        int from = Math.max(0, skip - off);   // first row of this batch the caller wants
                        System.arraycopy(batchLogits, from * vocab, allOut, (off + from - skip) * vocab, (n - from) * vocab);
                        System.arraycopy(batchLogits, (n - 1) * vocab, logits, 0, vocab);
                    }
                } catch (InternalError e) {
                    throw MappedFileChangedException.translate(e, model.file());   // the mapped file shrank
                }
                position += n;
            }
        } finally {
            model.forwardLock().unlock();
        }
        pendingToken = -1;
        hasLogits = true;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("context is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            model.closeWorkspace(workspace);
        } finally {
            onClose.run();
        }
    }
}
