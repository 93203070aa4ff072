package dev.spillway.engine.backend;

import dev.spillway.engine.tensor.GgmlType;

/**
 * One layer's key/value cache on one backend: {@link #contextSize()} token rows of
 * {@link #kvDim()} = n_head_kv * head_dim elements for K and for V, stored in {@link #keyType()} and
 * {@link #valueType()}. Quantized caches quantize along the whole row of a token, so any head size
 * works as long as {@code kvDim} is a multiple of the type's block.
 *
 * <p>The cache has no notion of "how full"; the context tracks its position and simply overwrites
 * rows, which is why clearing a context needs no reallocation.
 */
public interface KvCache extends AutoCloseable {
    /** The element types a KV cache can hold (for K and V independently). */
    java.util.Set<GgmlType> ELEMENT_TYPES = java.util.Collections.unmodifiableSet(
            java.util.EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0));

    int contextSize();

    int kvDim();

    GgmlType keyType();

    GgmlType valueType();

    long allocatedBytes();

    @Override
    void close();

    /** Bytes one layer's cache needs: K and V, each {@code nCtx} rows of {@code kvDim} elements. */
    static long bytesFor(int nCtx, int kvDim, GgmlType keyType, GgmlType valueType) {
        return (long) nCtx * (keyType.bytesFor(kvDim) + valueType.bytesFor(kvDim));
    }
}
