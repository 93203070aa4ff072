package dev.spillway.cpu;

import dev.spillway.engine.backend.Activations;

/** An F32 activation matrix on the Java heap, where the Vector API reads it fastest. */
final class CpuActivations extends CpuHandle implements Activations {
    final int rows;
    final int cols;
    final long bytes;
    float[] data; // (rows, cols) row-major; null once closed

    CpuActivations(CpuBackend owner, int rows, int cols, float[] data) {
        super(owner);
        this.rows = rows;
        this.cols = cols;
        this.data = data;
        this.bytes = 4L * data.length;
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
        return closed ? 0 : bytes;
    }

    @Override
    public void close() {
        owner.release(this);
    }

    @Override
    public String toString() {
        return "cpu activations (" + rows + ", " + cols + ")" + (closed ? " closed" : "");
    }
}
