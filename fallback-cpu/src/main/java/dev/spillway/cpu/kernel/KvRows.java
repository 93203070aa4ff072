package dev.spillway.cpu.kernel;

import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * One side (K or V) of a layer's cache: token row {@code p} is {@code kvDim} elements of
 * {@code type}, quantized along the whole row, at {@code data[p * rowBytes ..]}.
 *
 * @param rowBytes {@code type.bytesFor(kvDim)}
 */
public record KvRows(GgmlType type, MemorySegment data, int kvDim, long rowBytes) {
    public KvRows(GgmlType type, MemorySegment data, int kvDim) {
        this(type, data, kvDim, type.bytesFor(kvDim));
    }

    /** Decodes elements {@code [e0, e0+count)} of row {@code p} into {@code buf}; returns where e0 landed. */
    public int decode(int p, int e0, int count, float[] buf) {
        return Dequant.decodeSlice(type, data, p * rowBytes, e0, count, buf);
    }

    /** Floats of decode buffer {@link #decode} needs for {@code count} elements. */
    public int bufferFloats(int count) {
        return count + 2 * type.blockElements();
    }
}
