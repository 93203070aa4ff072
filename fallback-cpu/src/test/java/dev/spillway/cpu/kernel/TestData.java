package dev.spillway.cpu.kernel;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Random test data, and quantized weights placed at an odd address as in a mapped file. */
public final class TestData {
    private TestData() {
    }

    public static float[] gaussian(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * scale;
        }
        return x;
    }

    /**
     * {@code values} quantized to {@code type}, copied into native memory one byte past an aligned
     * address (GGUF tensor data is only 32-byte aligned and slices of it need not be aligned at all).
     */
    public static MemorySegment unalignedNative(Arena arena, GgmlType type, float[] values) {
        MemorySegment heap = Quants.quantize(type, values);
        MemorySegment seg = arena.allocate(heap.byteSize() + 1, 64).asSlice(1);
        MemorySegment.copy(heap, 0, seg, 0, heap.byteSize());
        return seg.asReadOnly();
    }

    /** {@code gamma}-like F32 weights as bytes. */
    public static MemorySegment f32(float[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[4 * values.length]);
        for (int i = 0; i < values.length; i++) {
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4L * i, values[i]);
        }
        return seg;
    }
}
