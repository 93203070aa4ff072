package dev.spillway.cpu;

import dev.spillway.engine.backend.SerializedBackend;

/**
 * What the CPU backend's handles share (weights, KV caches, activations): the backend that owns them,
 * and a {@code closed} flag that the backend tests and sets under its lock, so a handle's memory is
 * released, and the backend's count of live handles decremented, exactly once.
 */
abstract sealed class CpuHandle implements SerializedBackend.Owned permits CpuActivations, CpuKvCache, CpuWeight {
    final CpuBackend owner;
    /** Set under the owner's lock; read without it by accessors. */
    volatile boolean closed;

    CpuHandle(CpuBackend owner) {
        this.owner = owner;
    }

    @Override
    public final CpuBackend owner() {
        return owner;
    }

    @Override
    public final boolean isClosed() {
        return closed;
    }
}
