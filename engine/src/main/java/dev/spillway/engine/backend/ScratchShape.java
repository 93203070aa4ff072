package dev.spillway.engine.backend;

/**
 * What sizes a backend's scratch: the largest batch and context its contexts use, and the model's
 * geometry. A backend keeps one scratch for all its contexts, sized by the largest of each.
 *
 * @param maxTokens   the largest batch (tokens per forward pass)
 * @param contextSize the longest context (KV rows) an attention call reads
 * @param ropePairs   rotated dimensions / 2 (the RoPE table's pairs per token)
 * @param headCount   n_head: query heads
 * @param headDim     elements per head
 * @param widestRow   the most columns a weight has
 * @param threads     CPU worker threads (per-thread scratch; 1 for device backends)
 */
public record ScratchShape(int maxTokens, int contextSize, int ropePairs, int headCount, int headDim, int widestRow,
                           int threads) {
    public ScratchShape {
        if (maxTokens < 0 || contextSize < 0 || ropePairs < 0 || headCount < 0 || headDim < 0 || widestRow < 0 || threads < 1) {
            throw new IllegalArgumentException("bad scratch shape: maxTokens=" + maxTokens + " contextSize=" + contextSize
                    + " ropePairs=" + ropePairs + " n_head=" + headCount + " head_dim=" + headDim + " widestRow=" + widestRow
                    + " threads=" + threads);
        }
    }

    /** The same with {@code threads} worker threads. */
    public ScratchShape withThreads(int threads) {
        return new ScratchShape(maxTokens, contextSize, ropePairs, headCount, headDim, widestRow, threads);
    }
}
