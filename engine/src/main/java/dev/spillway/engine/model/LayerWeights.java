package dev.spillway.engine.model;

import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.util.Closeables;
import java.util.List;

/**
 * One transformer block's weights, loaded on the backend that runs the block. Shapes are
 * (rows, cols) = (outputs, inputs); in GGUF's innermost-first order they read the other way round.
 */
public record LayerWeights(
        Weight attnNorm,    // (1, n_embd)                  blk.N.attn_norm.weight, F32
        Weight query,       // (n_head*head_dim, n_embd)    blk.N.attn_q.weight
        Weight key,         // (n_head_kv*head_dim, n_embd) blk.N.attn_k.weight
        Weight value,       // (n_head_kv*head_dim, n_embd) blk.N.attn_v.weight
        Weight attnOutput,  // (n_embd, n_head*head_dim)    blk.N.attn_output.weight
        Weight ffnNorm,     // (1, n_embd)                  blk.N.ffn_norm.weight, F32
        Weight ffnGate,     // (n_ff, n_embd)               blk.N.ffn_gate.weight
        Weight ffnUp,       // (n_ff, n_embd)               blk.N.ffn_up.weight
        Weight ffnDown      // (n_embd, n_ff)               blk.N.ffn_down.weight
) implements AutoCloseable {

    /** Query, key and value: the weights that read the attention's normalized input. */
    public List<Weight> qkv() {
        return List.of(query, key, value);
    }

    /** Gate and up: the weights that read the feed-forward block's normalized input. */
    public List<Weight> gateUp() {
        return List.of(ffnGate, ffnUp);
    }

    public List<Weight> all() {
        return List.of(attnNorm, query, key, value, attnOutput, ffnNorm, ffnGate, ffnUp, ffnDown);
    }

    public long allocatedBytes() {
        return all().stream().mapToLong(Weight::allocatedBytes).sum();
    }

    @Override
    public void close() {
        Closeables.closeAllReversed(all(), null);
    }
}
