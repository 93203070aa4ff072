package dev.spillway.offload.device;

import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.tensor.GgmlType;

/** One layer's K and V rows in device memory; token row p of each side starts at p * rowBytes. */
final class DeviceKvCache extends DeviceHandle implements KvCache {
    private final int contextSize;
    private final int kvDim;
    final GgmlType keyType;
    final GgmlType valueType;
    final DeviceBuffer keys;   // (contextSize, kvDim) in keyType
    final DeviceBuffer values; // (contextSize, kvDim) in valueType

    DeviceKvCache(DeviceBackend owner, int contextSize, int kvDim, GgmlType keyType, GgmlType valueType,
                  DeviceBuffer keys, DeviceBuffer values) {
        super(owner);
        this.contextSize = contextSize;
        this.kvDim = kvDim;
        this.keyType = keyType;
        this.valueType = valueType;
        this.keys = keys;
        this.values = values;
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

    long keyRowBytes() {
        return keyType.bytesFor(kvDim);
    }

    long valueRowBytes() {
        return valueType.bytesFor(kvDim);
    }

    @Override
    public long allocatedBytes() {
        return closed ? 0 : keys.byteSize() + values.byteSize();
    }

    @Override
    void free(DeviceMemory memory) {
        memory.free(keys);
        memory.free(values);
    }

    @Override
    public String toString() {
        return owner.name() + " kv cache (" + contextSize + ", " + kvDim + ") " + keyType + "/" + valueType
                + (closed ? " closed" : "");
    }
}
