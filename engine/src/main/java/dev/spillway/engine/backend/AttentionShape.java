package dev.spillway.engine.backend;

/**
 * Head geometry of one attention layer.
 *
 * @param headCount   n_head: query heads
 * @param kvHeadCount n_head_kv: key/value heads; query head {@code h} reads KV head {@code h / (headCount / kvHeadCount)}
 * @param headDim     elements per head
 * @param scale       multiplier of q·k before the softmax, normally {@code 1/sqrt(headDim)}
 */
public record AttentionShape(int headCount, int kvHeadCount, int headDim, float scale) {
    public AttentionShape {
        if (headCount <= 0 || kvHeadCount <= 0 || headDim <= 0 || headCount % kvHeadCount != 0) {
            throw new IllegalArgumentException("bad attention shape: n_head=" + headCount + " n_head_kv=" + kvHeadCount
                    + " head_dim=" + headDim);
        }
    }

    public int qDim() {
        return headCount * headDim;
    }

    public int kvDim() {
        return kvHeadCount * headDim;
    }

    public int groupSize() {
        return headCount / kvHeadCount;
    }
}
