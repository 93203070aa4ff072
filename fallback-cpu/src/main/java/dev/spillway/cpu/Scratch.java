package dev.spillway.cpu;

import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.memory.MemoryAccount;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-thread float scratch (weight tiles, attention scores, decoded K/V slices, RoPE tables), and
 * one shared buffer (a mat-mat's transposed batch: written by the calling thread before a dispatch,
 * only read by the workers during it), grown on demand and counted in the backend's allocated bytes.
 * Thread {@code w} only touches its own buffers; {@link #release} runs when no op is in flight.
 */
final class Scratch {
    static final int TILE = 0, SCORES = 1, K_ROW = 2, V_ROW = 3, ROPE = 4;
    private static final int KINDS = 5;

    private final float[][][] buffers; // [thread][kind]
    private float[] shared = new float[0];
    private final AtomicLong allocated;
    private final MemoryAccount memory;

    Scratch(int threads, AtomicLong allocated, MemoryAccount memory) {
        this.buffers = new float[threads][KINDS][];
        this.allocated = allocated;
        this.memory = memory;
    }

    /** Thread {@code worker}'s buffer of {@code kind}, at least {@code floats} long. */
    float[] get(int worker, int kind, int floats) {
        float[] b = buffers[worker][kind];
        if (b != null && b.length >= floats) {
            return b;
        }
        b = grow(b, floats, true);
        buffers[worker][kind] = b;
        return b;
    }

    /** The shared buffer, at least {@code floats} long: for the calling thread, between dispatches. */
    float[] shared(long floats) {
        if (shared.length >= floats) {
            return shared;
        }
        if (floats > Integer.MAX_VALUE - 8) {
            throw new BackendMemoryException("cpu", 4L * floats, allocated.get(), "cpu scratch",
                    "cpu backend: a mat-mat batch of " + floats + " floats exceeds a Java array; use a smaller batch", null);
        }
        shared = grow(shared, (int) floats, false);   // exact: its size is estimated as is
        return shared;
    }

    /**
     * A new buffer of at least {@code floats} replacing {@code b} (null or empty: none), the difference counted;
     * {@code geometric}: at least twice the old size (attention asks for one more score per generated
     * token, and an exact fit would reallocate on every token).
     */
    private float[] grow(float[] b, int floats, boolean geometric) {
        int old = b == null ? 0 : b.length;
        int size = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(floats, geometric ? 2L * old : 0));
        long grow = 4L * (size - old);
        memory.reserve(grow, "cpu scratch (" + size + " floats)");
        try {
            b = new float[size];
        } catch (OutOfMemoryError e) {
            memory.release(grow);
            throw new BackendMemoryException("cpu", 4L * floats, allocated.get(), "cpu scratch",
                    "cpu backend: no heap for " + floats + " floats of scratch", e);
        }
        allocated.addAndGet(grow);
        return b;
    }

    /** Drops every buffer (they are re-grown by the next op that needs them). */
    void release() {
        allocated.addAndGet(-4L * shared.length);
        memory.release(4L * shared.length);
        shared = new float[0];
        for (float[][] perThread : buffers) {
            for (int k = 0; k < KINDS; k++) {
                if (perThread[k] != null) {
                    allocated.addAndGet(-4L * perThread[k].length);
                    memory.release(4L * perThread[k].length);
                    perThread[k] = null;
                }
            }
        }
    }
}
