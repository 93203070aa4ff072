package dev.spillway.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named tensor whose bytes live in host memory (usually a slice of a memory-mapped GGUF file).
 *
 * @param name  the GGUF tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param type  element type
 * @param shape dimensions in ggml order: {@code shape[0]} is the contiguous (innermost) dimension,
 *              so a weight matrix with {@code n_out} rows of {@code n_in} elements is {@code (n_in, n_out)}
 * @param data  exactly {@code type.bytesFor(elementCount())} bytes
 */
public record TensorView(String name, GgmlType type, long[] shape, MemorySegment data) {

    public TensorView {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(data, "data");
        shape = shape.clone();
        long expected = type.bytesFor(elementCount(shape));
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes given, " + expected + " expected for "
                    + type + " " + Arrays.toString(shape));
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int dims() {
        return shape.length;
    }

    /** {@code shape[i]}, or 1 past the last dimension. */
    public long dim(int i) {
        return i < shape.length ? shape[i] : 1;
    }

    public long elementCount() {
        return elementCount(shape);
    }

    /** Row length: the contiguous dimension. */
    public int cols() {
        return Math.toIntExact(dim(0));
    }

    /** Number of rows: the product of every dimension but the first. */
    public int rows() {
        return Math.toIntExact(elementCount() / Math.max(1, dim(0)));
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return type.bytesFor(dim(0));
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
