package dev.spillway.offload.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native host memory that {@link DeviceBackend} copies through (token rows, logits, the RoPE table):
 * one buffer that grows on demand, in an arena of its own, which {@link #close()} frees (growing
 * frees the smaller one). It is host memory, so the backend's device counter does not include it
 * ({@link DeviceBackend#stagingBytes()} reports it).
 *
 * <p>An upload may read its source after {@link DeviceRuntime#upload} returns; the backend sets
 * {@link #inFlight} when it uploads from here and synchronizes the runtime before it writes here
 * again. Not thread-safe: the backend uses it under its lock.
 */
final class HostStaging implements AutoCloseable {
    private static final long MIN_CAPACITY = 4096;
    private static final long ALIGNMENT = 64;

    private Arena arena;
    private MemorySegment buffer = MemorySegment.NULL;
    private MemorySegment view = MemorySegment.NULL;   // the last slice handed out, reused while the size repeats
    /** Whether an upload enqueued from here may still read it (cleared when the runtime was synchronized). */
    boolean inFlight;

    /**
     * The first {@code bytes} bytes of the buffer, which grows (to at least twice its size) when it is
     * smaller; contents undefined. The caller has made sure no upload still reads it.
     */
    MemorySegment segment(long bytes) {
        if (view.byteSize() != bytes) {
            if (buffer.byteSize() < bytes) {
                grow(bytes);
            }
            view = buffer.asSlice(0, bytes);
        }
        return view;
    }

    private void grow(long bytes) {
        long capacity = Math.max(bytes, Math.max(MIN_CAPACITY, 2 * buffer.byteSize()));
        Arena next = Arena.ofShared();   // the backend is called from any thread (under its lock)
        MemorySegment b;
        try {
            b = next.allocate(capacity, ALIGNMENT);
        } catch (RuntimeException | Error e) {
            next.close();
            throw e;
        }
        close();
        arena = next;
        buffer = b;
    }

    /** Bytes of host memory held. */
    long capacity() {
        return buffer.byteSize();
    }

    /** Frees the buffer; a later {@link #segment} allocates again. */
    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
        }
        buffer = MemorySegment.NULL;
        view = MemorySegment.NULL;
    }
}
