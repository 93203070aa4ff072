package dev.spillway.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar codecs between F32 and every computable {@link GgmlType}: the plain reference that the
 * GGUF writer quantizes with and that tests use as the oracle for the vectorized kernels.
 * All multi-byte fields are little-endian, as in GGUF files.
 */
public final class Quants {
    private Quants() {
    }

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Dequantizes {@code n} elements, a whole number of blocks, stored at {@code src[byteOffset..]}
     * into {@code dst[dstOffset..dstOffset+n)}.
     */
    public static void dequantize(GgmlType type, MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOffset + i] = src.get(LE_FLOAT, byteOffset + 4L * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOffset + i] = Float.float16ToFloat(src.get(LE_SHORT, byteOffset + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOffset + i] = Float.intBitsToFloat((src.get(LE_SHORT, byteOffset + 2L * i) & 0xFFFF) << 16);
                }
            }
            default -> throw new UnsupportedOperationException("TODO: implement " + type);
        }
    }

    /**
     * Quantizes {@code n} floats, a whole number of blocks, from {@code src[srcOffset..]} into
     * {@code type}'s block format at {@code dst[byteOffset..]} ({@code type.bytesFor(n)} bytes).
     */
    public static void quantize(GgmlType type, float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(LE_FLOAT, byteOffset + 4L * i, src[srcOffset + i]);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(LE_SHORT, byteOffset + 2L * i, Float.floatToFloat16(src[srcOffset + i]));
                }
            }
            default -> throw new UnsupportedOperationException("TODO: implement " + type);
        }
    }
}
