package dev.spillway.engine.gguf;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor info of a GGUF file:
 * <pre>
 * gguf_string_t name;
 * uint32_t n_dimensions;
 * uint64_t dimensions[n_dimensions];   // ggml order: dimensions[0] is the contiguous one
 * ggml_type type;                      // uint32_t
 * uint64_t offset;                     // relative to the start of the tensor data section
 * </pre>
 *
 * @param name     tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param type     element type
 * @param shape    dimensions in ggml order (see {@link TensorView})
 * @param offset   byte offset of the data relative to the data section ({@link GgufFile#dataOffset()})
 * @param byteSize bytes of data: {@code type.bytesFor(product(shape))}
 */
public record GgufTensorInfo(String name, GgmlType type, long[] shape, long offset, long byteSize) {

    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int dims() {
        return shape.length;
    }

    public long elementCount() {
        return TensorView.elementCount(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && name.equals(t.name) && type == t.type && Arrays.equals(shape, t.shape)
                && offset == t.offset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, Arrays.hashCode(shape), offset, byteSize);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape) + " @+" + GgufFormat.hex(offset) + " (" + byteSize + " bytes)";
    }
}
