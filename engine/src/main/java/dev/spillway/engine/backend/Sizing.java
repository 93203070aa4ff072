package dev.spillway.engine.backend;

import dev.spillway.engine.tensor.GgmlType;

/**
 * How many bytes a kind of backend allocates for each kind of handle. A backend allocates exactly
 * what its sizing says (its allocation code calls these methods), and the memory estimator asks the
 * same methods before anything exists, so estimate and allocation cannot drift apart.
 */
public interface Sizing {

    /** Bytes {@link Backend#loadWeight} allocates for a (rows, cols) tensor of {@code type} (0 for a zero-copy view). */
    long weightBytes(GgmlType type, long rows, long cols);

    /** Bytes {@link Backend#allocateKv} allocates: K and V, each {@code contextSize} rows of {@code kvDim} elements. */
    default long kvBytes(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        return KvCache.bytesFor(contextSize, kvDim, keyType, valueType);
    }

    /** Bytes {@link Backend#allocateActivations} allocates for an F32 (rows, cols) matrix. */
    default long activationBytes(int rows, int cols) {
        return 4L * rows * cols;
    }

    /**
     * Bytes of scratch the backend keeps for contexts of {@code shape}, shared by every context (the
     * largest batch and context count, not the sum).
     */
    long scratchBytes(ScratchShape shape);
}
