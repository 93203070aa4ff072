package dev.spillway.offload.device;

/**
 * Work-group sizes the kernels are compiled for ({@code native/kernels/spillway_kernels.inc}: the
 * {@code SPW_*} defaults there must equal these; {@code KernelSourceTest} checks it). The kernels
 * size their local arrays with them, so launches use exactly these group sizes.
 */
final class KernelGeometry {
    private KernelGeometry() {
    }

    /** {@code SPW_MV_ROWS}: rows of a mat-vec group (one token), one team of {@link #MATVEC_LANES} each. */
    static final int MATVEC_ROWS = 8;
    /** {@code SPW_MV_LANES}: work-items per mat-vec row (a warp). */
    static final int MATVEC_LANES = 32;
    /** Work-items of a mat-vec group. */
    static final int MATVEC_GROUP = MATVEC_ROWS * MATVEC_LANES;
    /** {@code SPW_MT_ROWS}: weight rows of a matmul tile (a batch of tokens). */
    static final int MATMUL_ROWS = 64;
    /** {@code SPW_MT_TOKENS}: tokens of a matmul tile. */
    static final int MATMUL_TOKENS = 32;
    /** {@code SPW_MT_WG}: work-items of a matmul group. */
    static final int MATMUL_GROUP = 256;
    /** {@code SPW_NORM_WG}: work-items of an rms_norm group (one token row). */
    static final int NORM_GROUP = 128;
    /** {@code SPW_ATTN_WG}: work-items of an attention group (one token and query head) and keys per tile. */
    static final int ATTENTION_GROUP = 64;
    /** {@code SPW_ATTN_SPLIT}: keys per split of the one-token attention over a long context. */
    static final int ATTENTION_SPLIT_KEYS = 256;
    /** {@code SPW_ROW_WG}: work-items of the element-wise, rope and kv-store groups. */
    static final int ROW_GROUP = 256;
    /** Elements of a quantization block of the legacy types the KV cache stores (Q8_0, Q4_0). */
    static final int KV_BLOCK = 32;

    /** Groups of {@code size} items that cover {@code count} items. */
    static int groups(long count, int size) {
        return Math.toIntExact((count + size - 1) / size);
    }
}
