package dev.spillway.engine.backend;

import dev.spillway.engine.tensor.GgmlType;

/**
 * A weight tensor made available on one backend ({@link Backend#loadWeight}). Viewed as a matrix of
 * {@link #rows()} rows of {@link #cols()} elements, stored in {@link #type()}'s block format.
 * Closing it releases what the backend holds for it (nothing for a zero-copy CPU view, device memory
 * for a device copy); the owner that loaded it closes it.
 */
public interface Weight extends AutoCloseable {
    String name();

    GgmlType type();

    /** Output dimension: number of rows. */
    int rows();

    /** Input dimension: elements per row (the contiguous GGUF dimension). */
    int cols();

    /** Bytes this weight occupies on its backend (0 for a zero-copy view of the mapped file). */
    long allocatedBytes();

    @Override
    void close();
}
