package dev.spillway.offload.device;

import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;

/** A weight uploaded to device memory in its GGUF block format: rows of {@code rowBytes}. */
final class DeviceWeight extends DeviceHandle implements Weight {
    private final String name;
    final GgmlType type;
    final int rows;
    final int cols;
    final long rowBytes;
    final DeviceBuffer buffer; // (rows, cols) in type's block format

    DeviceWeight(DeviceBackend owner, String name, GgmlType type, int rows, int cols, long rowBytes, DeviceBuffer buffer) {
        super(owner);
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = rowBytes;
        this.buffer = buffer;
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
        return closed ? 0 : buffer.byteSize();
    }

    @Override
    void free(DeviceMemory memory) {
        memory.free(buffer);
    }

    @Override
    public String toString() {
        return owner.name() + " weight " + name + " " + type + " (" + rows + ", " + cols + ")";
    }
}
