package dev.spillway.api;

import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import java.util.Objects;
import java.util.Set;

/**
 * How to create a context. Immutable.
 *
 * @param contextSize  tokens the KV cache holds ({@code -c}); 0 = the model's training context, capped at
 *                     {@link #DEFAULT_MAX_CONTEXT}
 * @param batchSize    tokens per forward pass while processing a prompt ({@code -b})
 * @param keyType      KV cache element type for keys ({@code -ctk})
 * @param valueType    KV cache element type for values ({@code -ctv})
 * @param sampling     how tokens are chosen by {@code generate}
 * @param maxCacheTokens the most tokens the KV cache holds, whatever the context size; 0 = no cap.
 *                     The cache is allocated for {@code min(context size, cap)} rows, and generation
 *                     stops with {@link StopReason#CACHE_LIMIT} when they are full
 * @param allLogits    whether {@link Context#evaluateAll} may be used: the output head then runs over
 *                     every row of a batch and its buffers hold {@code batchSize} rows instead of one
 *                     (off by default; generation never needs it)
 */
public record ContextParams(int contextSize, int batchSize, GgmlType keyType, GgmlType valueType, SamplingParams sampling,
                            int maxCacheTokens, boolean allLogits) {

    /** Cache element types a context accepts. */
    public static final Set<GgmlType> KV_TYPES =
            dev.spillway.engine.backend.KvCache.ELEMENT_TYPES;

    /** Upper bound of the default context size, to keep the default KV cache modest. */
    public static final int DEFAULT_MAX_CONTEXT = 4096;

    public ContextParams {
        if (contextSize < 0) {
            throw new IllegalArgumentException("context size must be 0 (model default) or positive, got " + contextSize);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        Objects.requireNonNull(sampling, "sampling");
        if (maxCacheTokens < 0) {
            throw new IllegalArgumentException("maxCacheTokens must be 0 (no cap) or positive, got " + maxCacheTokens);
        }
        for (GgmlType t : new GgmlType[] {keyType, valueType}) {
            if (!KV_TYPES.contains(t)) {
                throw new IllegalArgumentException("KV cache type " + t + " is not supported; use one of " + KV_TYPES);
            }
        }
    }

    /** Logits of the last token only. */
    public ContextParams(int contextSize, int batchSize, GgmlType keyType, GgmlType valueType, SamplingParams sampling,
                         int maxCacheTokens) {
        this(contextSize, batchSize, keyType, valueType, sampling, maxCacheTokens, false);
    }

    /** Without a cache cap, logits of the last token only. */
    public ContextParams(int contextSize, int batchSize, GgmlType keyType, GgmlType valueType, SamplingParams sampling) {
        this(contextSize, batchSize, keyType, valueType, sampling, 0, false);
    }

    /** Model's context (capped), batch 512, F16 cache, default sampling, no cache cap, last-token logits. */
    public static ContextParams defaults() {
        return new ContextParams(0, 512, GgmlType.F16, GgmlType.F16, SamplingParams.defaults(), 0, false);
    }

    public ContextParams withMaxCacheTokens(int value) {
        return new ContextParams(contextSize, batchSize, keyType, valueType, sampling, value, allLogits);
    }

    public ContextParams withAllLogits(boolean value) {
        return new ContextParams(contextSize, batchSize, keyType, valueType, sampling, maxCacheTokens, value);
    }

    /** Rows the KV cache gets for a model trained with {@code trainedContext} tokens: the context size, capped. */
    public int cacheRows(int trainedContext) {
        int n = effectiveContextSize(trainedContext);
        return maxCacheTokens > 0 ? Math.min(n, maxCacheTokens) : n;
    }

    public ContextParams withContextSize(int value) {
        return new ContextParams(value, batchSize, keyType, valueType, sampling, maxCacheTokens, allLogits);
    }

    public ContextParams withBatchSize(int value) {
        return new ContextParams(contextSize, value, keyType, valueType, sampling, maxCacheTokens, allLogits);
    }

    public ContextParams withKeyType(GgmlType value) {
        return new ContextParams(contextSize, batchSize, value, valueType, sampling, maxCacheTokens, allLogits);
    }

    public ContextParams withValueType(GgmlType value) {
        return new ContextParams(contextSize, batchSize, keyType, value, sampling, maxCacheTokens, allLogits);
    }

    public ContextParams withCacheType(GgmlType value) {
        return new ContextParams(contextSize, batchSize, value, value, sampling, maxCacheTokens, allLogits);
    }

    public ContextParams withSampling(SamplingParams value) {
        return new ContextParams(contextSize, batchSize, keyType, valueType, value, maxCacheTokens, allLogits);
    }

    /** The context size to allocate for a model trained with {@code trainedContext} tokens. */
    public int effectiveContextSize(int trainedContext) {
        return contextSize > 0 ? contextSize : Math.min(trainedContext, DEFAULT_MAX_CONTEXT);
    }

    /** Parses a cache type name as llama.cpp spells it: f32, f16, bf16, q8_0, q4_0. */
    public static GgmlType parseCacheType(String name) {
        for (GgmlType t : KV_TYPES) {
            if (t.name().equalsIgnoreCase(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown KV cache type '" + name + "'; use one of f32, f16, bf16, q8_0, q4_0");
    }
}
