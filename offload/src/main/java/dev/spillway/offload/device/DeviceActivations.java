package dev.spillway.offload.device;

import dev.spillway.engine.backend.Activations;

/** An F32 activation matrix (rows, cols) in device memory, row-major. */
final class DeviceActivations extends DeviceHandle implements Activations {
    final int rows;
    final int cols;
    final DeviceBuffer buffer; // (rows, cols) F32

    DeviceActivations(DeviceBackend owner, int rows, int cols, DeviceBuffer buffer) {
        super(owner);
        this.rows = rows;
        this.cols = cols;
        this.buffer = buffer;
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
        return owner.name() + " activations (" + rows + ", " + cols + ")" + (closed ? " closed" : "");
    }
}
