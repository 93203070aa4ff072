package dev.spillway.offload.device;

import dev.spillway.engine.backend.Activations;

/** An F32 activation matrix (rows, cols) in device memory, row-major. */
final class DeviceActivations implements Activations {
    final DeviceBackend owner;
    final int rows;
    final int cols;
    final DeviceBuffer buffer; // (rows, cols) F32
    volatile boolean closed;

    DeviceActivations(DeviceBackend owner, int rows, int cols, DeviceBuffer buffer) {
        this.owner = owner;
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
    public void close() {
        owner.release(this);
    }

    @Override
    public String toString() {
        return owner.name() + " activations (" + rows + ", " + cols + ")" + (closed ? " closed" : "");
    }
}
