package dev.spillway.cpu;

import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import dev.spillway.cpu.kernel.RowGroups;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A weight tensor: a zero-copy view of its bytes (usually a slice of the mapped GGUF file), or, for
 * Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K tensors the backend repacks, its own copy in {@link RowGroups}' layout, held by this
 * weight's arena and freed when the weight is closed.
 */
final class CpuWeight extends CpuHandle implements Weight {
    private final String name;
    final GgmlType type;
    final int rows;
    final int cols;
    final long rowBytes;
    final MemorySegment data; // (rows, cols) in type's block format, rowBytes per row; null once packed
    final MemorySegment packed; // (rows / G, blocks, G * group block bytes) RowGroups (layout per type there), or null
    private final Arena packedArena; // owns packed; null when not packed

    CpuWeight(CpuBackend owner, TensorView tensor) {
        this(owner, tensor, null, null);
    }

    /** A packed copy: {@code packed} is already filled, and {@code arena} (its only owner) closes with this weight. */
    CpuWeight(CpuBackend owner, TensorView tensor, Arena arena, MemorySegment packed) {
        super(owner);
        this.name = tensor.name();
        this.type = tensor.type();
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        this.rowBytes = tensor.rowBytes();
        this.data = packed == null ? tensor.data() : null;
        this.packed = packed;
        this.packedArena = arena;
    }

    /** Frees the packed copy (the backend calls this once, under its lock). */
    void free() {
        if (packedArena != null) {
            packedArena.close();
        }
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
        return packed == null ? 0 : packed.byteSize();
    }

    @Override
    public void close() {
        owner.release(this);
    }

    @Override
    public String toString() {
        return "cpu weight " + name + " " + type + " (" + rows + ", " + cols + ")" + (packed == null ? "" : " packed");
    }
}
