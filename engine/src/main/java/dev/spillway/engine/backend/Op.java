package dev.spillway.engine.backend;

/**
 * The named operations the Llama graph is written against. A backend says through
 * {@link Backend#supports(Op, dev.spillway.engine.tensor.GgmlType)} which of them it can run for a
 * given weight or cache type; the placement asks before it puts a layer on a backend.
 */
public enum Op {
    /** {@code out = in / rms(in) * gamma}, per token row. Type: the gamma weight's. */
    RMS_NORM,
    /** {@code out[t][r] = sum_c W[r][c] * in[t][c]}. Type: the weight's. */
    MATMUL,
    /** Rotary position embedding applied in place to Q or K rows. Type: F32 (activations). */
    ROPE,
    /** Writes the K and V rows of new tokens into a layer's cache. Type: the cache's element type. */
    KV_STORE,
    /** Causal multi-head (grouped-query) attention over a layer's cache. Type: the cache's element type. */
    ATTENTION,
    /** {@code gate = silu(gate) * up}. Type: F32 (activations). */
    SWIGLU,
    /** {@code acc += other}, the residual connection. Type: F32 (activations). */
    ADD,
    /** Copies rows between activation buffers. Type: F32 (activations). */
    COPY_ROWS
}
