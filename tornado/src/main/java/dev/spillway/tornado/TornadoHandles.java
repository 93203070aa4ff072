package dev.spillway.tornado;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.SerializedBackend;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;

/** The TornadoVM backend's handles: ranges of its heaps, freed through the backend when closed. */
final class TornadoHandles {
    private TornadoHandles() {
    }

    /** What every handle shares: its backend, and whether it was closed (set under the backend's lock). */
    abstract static class Handle implements SerializedBackend.Owned, AutoCloseable {
        final TornadoBackend owner;
        boolean closed; // guarded by owner.lock

        Handle(TornadoBackend owner) {
            this.owner = owner;
        }

        @Override
        public Backend owner() {
            return owner;
        }

        @Override
        public boolean isClosed() {
            owner.lockForHandles().lock();
            try {
                return closed;
            } finally {
                owner.lockForHandles().unlock();
            }
        }

        @Override
        public void close() {
            owner.release(this);
        }

        /** Gives the handle's ranges back to their heaps (under the backend's lock). */
        abstract void free();
    }

    /** An F32 matrix (rows, cols), row-major, at float {@code offset} of the state heap. */
    static final class Floats extends Handle implements Activations {
        final int rows;
        final int cols;
        final long offset;

        Floats(TornadoBackend owner, int rows, int cols, long offset) {
            super(owner);
            this.rows = rows;
            this.cols = cols;
            this.offset = offset;
        }

        long count() {
            return (long) rows * cols;
        }

        @Override
        public int rows() {
            return rows;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public long allocatedBytes() {
            return closed ? 0 : 4 * count();
        }

        @Override
        void free() {
            owner.stateHeap().free(offset, count());
        }

        @Override
        public String toString() {
            return owner.name() + " activations (" + rows + ", " + cols + ")" + (closed ? " closed" : "");
        }
    }

    /**
     * A weight (rows, cols) in its GGUF block format at byte {@code offset} of weight chunk
     * {@code chunk}. {@code source} is the tensor's data, which the loader keeps valid while the
     * weight is used; a heap rebuilt larger copies it again from there.
     */
    static final class Bytes extends Handle implements Weight {
        final String name;
        final GgmlType type;
        final int rows;
        final int cols;
        final long rowBytes;
        int chunk;      // where the weight is; moved when a seal packs the weights (under the backend's lock)
        long offset;
        final MemorySegment source;

        Bytes(TornadoBackend owner, String name, GgmlType type, int rows, int cols, long rowBytes, int chunk, long offset,
              MemorySegment source) {
            super(owner);
            this.name = name;
            this.type = type;
            this.rows = rows;
            this.cols = cols;
            this.rowBytes = rowBytes;
            this.chunk = chunk;
            this.offset = offset;
            this.source = source;
        }

        long byteSize() {
            return rows * rowBytes;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public GgmlType type() {
            return type;
        }

        @Override
        public int rows() {
            return rows;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public long allocatedBytes() {
            return closed ? 0 : byteSize();
        }

        @Override
        void free() {
            owner.weightHeap(chunk).free(offset, byteSize());
        }

        @Override
        public String toString() {
            return owner.name() + " weight " + name + " " + type + " (" + rows + ", " + cols + ")" + (closed ? " closed" : "");
        }
    }

    /** One layer's K and V rows, K at byte {@code keys}, V at byte {@code values} of KV chunk {@code chunk}. */
    static final class Cache extends Handle implements KvCache {
        final int contextSize;
        final int kvDim;
        final GgmlType keyType;
        final GgmlType valueType;
        final int chunk;
        final long keys;
        final long values;

        Cache(TornadoBackend owner, int contextSize, int kvDim, GgmlType keyType, GgmlType valueType, int chunk, long keys,
              long values) {
            super(owner);
            this.contextSize = contextSize;
            this.kvDim = kvDim;
            this.keyType = keyType;
            this.valueType = valueType;
            this.chunk = chunk;
            this.keys = keys;
            this.values = values;
        }

        long keyRowBytes() {
            return keyType.bytesFor(kvDim);
        }

        long valueRowBytes() {
            return valueType.bytesFor(kvDim);
        }

        long byteSize() {
            return KvCache.bytesFor(contextSize, kvDim, keyType, valueType);
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
            return keyType;
        }

        @Override
        public GgmlType valueType() {
            return valueType;
        }

        @Override
        public long allocatedBytes() {
            return closed ? 0 : byteSize();
        }

        @Override
        void free() {
            owner.kvHeap(chunk).free(keys, byteSize());
        }

        @Override
        public String toString() {
            return owner.name() + " KV cache (" + contextSize + ", " + kvDim + ") " + keyType + "/" + valueType
                    + (closed ? " closed" : "");
        }
    }
}
