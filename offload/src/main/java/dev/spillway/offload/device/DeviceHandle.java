package dev.spillway.offload.device;

import dev.spillway.engine.backend.SerializedBackend;

/**
 * What the handles of a {@link DeviceBackend} share (weights, KV caches, activations): the backend
 * that owns them, and a {@code closed} flag that the backend tests and sets under its lock, so the
 * handle's device memory is freed, and the backend's count of live handles decremented, exactly
 * once however many threads close it.
 */
abstract sealed class DeviceHandle implements SerializedBackend.Owned permits DeviceActivations, DeviceKvCache, DeviceWeight {
    final DeviceBackend owner;
    /** Set under the owner's lock ({@link DeviceBackend#release}); read without it by accessors. */
    volatile boolean closed;

    DeviceHandle(DeviceBackend owner) {
        this.owner = owner;
    }

    @Override
    public final DeviceBackend owner() {
        return owner;
    }

    @Override
    public final boolean isClosed() {
        return closed;
    }

    /** Frees this handle's buffers; the owner calls it once, under its lock. */
    abstract void free(DeviceMemory memory);

    /** Releases the device memory (once; later calls do nothing). */
    public final void close() {
        owner.release(this);
    }
}
