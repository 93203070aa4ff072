package dev.spillway.engine.backend;

/**
 * An F32 activation matrix on one backend: up to {@link #rows()} token rows of {@link #cols()}
 * floats each, row-major. Allocated per context ({@link Backend#allocateActivations}); ops touch only
 * the first {@code nTokens} rows they are given. Closing it frees its memory.
 */
public interface Activations extends AutoCloseable {
    int rows();

    int cols();

    long allocatedBytes();

    @Override
    void close();
}
