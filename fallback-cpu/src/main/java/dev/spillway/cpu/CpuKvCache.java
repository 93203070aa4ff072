package dev.spillway.cpu;

import dev.spillway.cpu.kernel.KvRows;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.Arena;

/**
 * One layer's K and V rows, off-heap in an arena that this handle owns and closes. The rows come
 * zeroed from {@link ZeroedMemory}: only the positions written cost resident memory.
 */
final class CpuKvCache extends CpuHandle implements KvCache {
    private final int contextSize;
    private final int kvDim;
    private final Arena arena;
    final KvRows keys;   // (contextSize, kvDim) in keyType
    final KvRows values; // (contextSize, kvDim) in valueType
    final long bytes;

    CpuKvCache(CpuBackend owner, int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        super(owner);
        this.contextSize = contextSize;
        this.kvDim = kvDim;
        long kBytes = contextSize * keyType.bytesFor(kvDim);
        long vBytes = contextSize * valueType.bytesFor(kvDim);
        this.arena = Arena.ofShared();
        try {
            this.keys = new KvRows(keyType, ZeroedMemory.allocate(arena, kBytes, 64), kvDim);
            this.values = new KvRows(valueType, ZeroedMemory.allocate(arena, vBytes, 64), kvDim);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        this.bytes = kBytes + vBytes;
    }

    @Override
    public int contextSize() {
        return contextSize;
    }

    @Override
    public int kvDim() {
        return kvDim;
    }

    @Override
    public GgmlType keyType() {
        return keys.type();
    }

    @Override
    public GgmlType valueType() {
        return values.type();
    }

    @Override
    public long allocatedBytes() {
        return closed ? 0 : bytes;
    }

    /** Frees the off-heap rows; called by the backend under its op lock, so no op is using them. */
    void free() {
        arena.close();
    }

    @Override
    public void close() {
        owner.release(this);
    }

    @Override
    public String toString() {
        return "cpu kv cache (" + contextSize + ", " + kvDim + ") " + keys.type() + "/" + values.type()
                + (closed ? " closed" : "");
    }
}
