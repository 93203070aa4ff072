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

    /**
     * The scale of the rounding error of the float dot product {@code W[r] . x[t]}: the sum of the
     * magnitudes of the terms the kernels add. For plain and symmetric types that is
     * {@code sum |w_c x_c|}; the types with a block minimum (Q4_1, Q4_K, Q5_K) are computed as
     * {@code scale * sum q x - min * sum x}, whose two parts can cancel, so both count:
     * {@code sum (|w_c - min_c| + |min_c|) |x_c|}.
     */
    public static double errorScale(GgmlType type, MemorySegment w, int r, int cols, float[] x, int t) {
        long rowOff = r * type.bytesFor(cols);
        float[] row = Quants.dequantize(type, w.asSlice(rowOff), cols);
        double s = 0;
        int[] sm = new int[2];
        for (int c = 0; c < cols; c++) {
            double min = switch (type) {
                case Q4_1 -> Float.float16ToFloat(w.get(LE_SHORT, rowOff + 20L * (c / 32) + 2));
                case Q4_K, Q5_K -> {
                    long block = rowOff + (long) type.blockBytes() * (c / 256);
                    Quants.scaleMinK4(w, block + Quants.K_SCALES, c % 256 / 32, sm);
                    yield -Float.float16ToFloat(w.get(LE_SHORT, block + 2)) * sm[1];
                }
                default -> 0;
            };
            s += (Math.abs(row[c] - min) + Math.abs(min)) * Math.abs(x[t * cols + c]);
        }
        return s;
    }

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
}
