package dev.spillway.engine.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Moves a KV cache's rows from one backend to another (live spill: layers leaving a device that ran
 * out of memory), byte for byte, through host memory: {@link Backend#readKv} then
 * {@link Backend#writeKv}. The rows stay in the caches' storage format, so generation continues
 * with exactly the keys and values it had.
 */
public final class KvTransfer {
    private KvTransfer() {
    }

    /**
     * Copies rows {@code 0 .. rows-1} of K and V from {@code src}, a cache of {@code from}, to
     * {@code dst}, a cache of {@code to}. Both caches must have the same kvDim, key type and value
     * type, and at least {@code rows} rows. The host staging is allocated for the call and freed
     * before it returns. When it returns, {@code dst} holds the rows (and {@code src} is unchanged).
     *
     * @throws IllegalArgumentException when the caches differ in kvDim or types, {@code rows} is
     *                                  negative or exceeds either context, or a cache belongs to
     *                                  another backend than the one named for it
     * @throws IllegalStateException    when a cache or backend is closed
     */
    public static void copy(Backend from, KvCache src, Backend to, KvCache dst, int rows) {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(to, "to");
        Objects.requireNonNull(dst, "dst");
        if (src.kvDim() != dst.kvDim() || src.keyType() != dst.keyType() || src.valueType() != dst.valueType()) {
            throw new IllegalArgumentException("kv copy: " + src + " and " + dst + " differ in kvDim or types");
        }
        if (rows < 0 || rows > src.contextSize() || rows > dst.contextSize()) {
            throw new IllegalArgumentException("kv copy: " + rows + " rows do not fit " + src + " and " + dst);
        }
        long keyBytes = rows * src.keyType().bytesFor(src.kvDim());
        long valueBytes = rows * src.valueType().bytesFor(src.kvDim());
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment keys = staging.allocate(keyBytes, 64);
            MemorySegment values = staging.allocate(valueBytes, 64);
            from.readKv(src, rows, keys, values);
            to.writeKv(dst, rows, keys, values);
        }
    }
}
