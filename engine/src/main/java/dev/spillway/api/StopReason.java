package dev.spillway.api;

/** Why {@code generate} stopped. */
public enum StopReason {
    /** The model produced an end-of-generation token (not included in the text). */
    END_OF_GENERATION,
    /** The requested number of tokens was generated. */
    MAX_TOKENS,
    /** The context is full. */
    CONTEXT_FULL,
    /** The KV cache reached its cap, {@link ContextParams#maxCacheTokens()}. */
    CACHE_LIMIT
}
