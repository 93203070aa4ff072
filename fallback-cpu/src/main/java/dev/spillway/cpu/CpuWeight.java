package dev.spillway.cpu;

import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.MemorySegment;

/** A zero-copy view of a weight tensor's bytes (usually a slice of the mapped GGUF file). */
final class CpuWeight implements Weight {
    final CpuBackend owner;
    private final String name;
    final GgmlType type;
    final int rows;
    final int cols;
    final long rowBytes;
    final MemorySegment data; // (rows, cols) in type's block format, rowBytes per row
    volatile boolean closed;

    CpuWeight(CpuBackend owner, TensorView tensor) {
        this.owner = owner;
        this.name = tensor.name();
        this.type = tensor.type();
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        this.rowBytes = tensor.rowBytes();
        this.data = tensor.data();
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
        return 0;
    }

    @Override
    public void close() {
        owner.release(this);
    }

    @Override
    public String toString() {
        return "cpu weight " + name + " " + type + " (" + rows + ", " + cols + ")";
    }
}
