package dev.spillway.engine.tensor;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
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
 * @param file  where the same bytes lie in a file, for a backend that copies them and would rather
 *              read the file than fault in the view's mapped pages (which then count in the
 *              process's resident memory as long as the mapping lives); null when the data is not a
 *              view of a file, e.g. a tensor built in memory or a file read into memory
 */
public record TensorView(String name, GgmlType type, long[] shape, MemorySegment data, FileRegion file) {

    /**
     * A file's bytes: {@code data().byteSize()} of them from {@code offset}, read through
     * {@code channel}, which its owner (the {@code GgufFile} that mapped the file) keeps open with the
     * mapping and closes; {@code path} names the file in messages.
     */
    public record FileRegion(FileChannel channel, Path path, long offset) {
        public FileRegion {
            Objects.requireNonNull(channel, "channel");
            Objects.requireNonNull(path, "path");
            if (offset < 0) {
                throw new IllegalArgumentException("negative file offset " + offset);
            }
        }
    }

    /** A tensor that is not a view of a file. */
    public TensorView(String name, GgmlType type, long[] shape, MemorySegment data) {
        this(name, type, shape, data, null);
    }

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

    /** Copies {@code dst.byteSize()} bytes from {@code offset} of this tensor into {@code dst}: from the file when known, else from the view. */
    public void copyTo(long offset, MemorySegment dst) throws IOException {
        if (offset < 0 || offset + dst.byteSize() > data.byteSize()) {
            throw new IndexOutOfBoundsException(name + ": bytes [" + offset + ", " + (offset + dst.byteSize()) + ") of " + data.byteSize());
        }
        if (file == null) {
            MemorySegment.copy(data, offset, dst, 0, dst.byteSize());
            return;
        }
        ByteBuffer buffer = dst.asByteBuffer();
        long position = file.offset() + offset;
        while (buffer.hasRemaining()) {
            int n = file.channel().read(buffer, position);   // positional: safe from several threads
            if (n < 0) {
                throw new EOFException(file.path() + ": ends at byte " + position + ", inside tensor " + name
                        + " (the file was truncated after it was opened?)");
            }
            position += n;
        }
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
