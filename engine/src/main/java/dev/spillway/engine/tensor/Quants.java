package dev.spillway.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Scalar codecs between F32 and every computable {@link GgmlType}: the plain reference that the
 * GGUF writer quantizes with and that tests use as the oracle for the vectorized kernels.
 * All multi-byte fields are little-endian, as in GGUF files.
 *
 * <p>Block layouts (ggml's {@code block_*} structs, packed, no padding) and element order:
 * <ul>
 *   <li>{@code block_q8_0: ggml_half d; int8_t qs[32]} (34 bytes). Element j = {@code qs[j] * d}.</li>
 *   <li>{@code block_q4_0: ggml_half d; uint8_t qs[16]} (18 bytes). Element j is the low nibble of
 *       {@code qs[j]} for j &lt; 16 and the high nibble of {@code qs[j-16]} for j &ge; 16;
 *       value = {@code (nibble - 8) * d}.</li>
 *   <li>{@code block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]} (20 bytes). Nibble order as
 *       Q4_0; value = {@code nibble * d + m}.</li>
 *   <li>{@code block_q4_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]} (144
 *       bytes, 256 elements). Eight sub-blocks of 32 with a 6-bit scale {@code sc} and 6-bit min
 *       {@code m} each (packing: see {@link #scaleMinK4}); value = {@code d*sc*q - dmin*m}. The 32
 *       bytes {@code qs[32k .. 32k+32)} hold sub-block 2k in their low nibbles and sub-block 2k+1
 *       in their high nibbles: element {@code 64k + l} is {@code qs[32k+l] & 0xF}, element
 *       {@code 64k + 32 + l} is {@code qs[32k+l] >> 4}.</li>
 *   <li>{@code block_q5_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32];
 *       uint8_t qs[128]} (176 bytes). As Q4_K with a 5th bit: for element {@code 32s + l} of
 *       sub-block s, {@code q = nibble | ((qh[l] >> s) & 1) << 4}.</li>
 *   <li>{@code block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d} (210
 *       bytes, {@code d} at the end). Sixteen sub-blocks of 16; value = {@code d * scales[e/16] * (q - 32)}
 *       with a 6-bit q. The block is two halves of 128 elements; in half h, with
 *       {@code L = ql + 64h}, {@code H = qh + 32h} and l in [0, 32):
 *       element {@code 128h + l}      = {@code L[l] & 0xF    | ((H[l] >> 0) & 3) << 4},
 *       element {@code 128h + 32 + l} = {@code L[l+32] & 0xF | ((H[l] >> 2) & 3) << 4},
 *       element {@code 128h + 64 + l} = {@code L[l] >> 4     | ((H[l] >> 4) & 3) << 4},
 *       element {@code 128h + 96 + l} = {@code L[l+32] >> 4  | ((H[l] >> 6) & 3) << 4}.</li>
 * </ul>
 *
 * <p>The quantizers round each element to the nearest grid point. The K-quant sub-block scales are
 * chosen by a simple min/max rule, rounded up so that the grid covers the sub-block's range (no
 * iterative search as in llama.cpp): the largest error of an element is half the sub-block's
 * effective step.
 */
public final class Quants {
    private Quants() {
    }

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Elements per block of the legacy types (Q4_0, Q4_1, Q8_0): ggml's {@code QK4_0 = QK8_0 = 32}. */
    public static final int QK = 32;
    /** Elements per K-quant super-block: ggml's {@code QK_K}. */
    public static final int QK_K = 256;

    // Byte offsets of the fields of the K-quant blocks.
    /** Q4_K / Q5_K: {@code scales[12]} after {@code d, dmin}. */
    public static final int K_SCALES = 4;
    /** Q4_K: {@code qs[128]}. */
    public static final int Q4K_QS = 16;
    /** Q5_K: {@code qh[32]}. */
    public static final int Q5K_QH = 16;
    /** Q5_K: {@code qs[128]}. */
    public static final int Q5K_QS = 48;
    /** Q6_K: {@code qh[64]} after {@code ql[128]}. */
    public static final int Q6K_QH = 128;
    /** Q6_K: {@code int8 scales[16]}. */
    public static final int Q6K_SCALES = 192;
    /** Q6_K: {@code ggml_half d}, the last field. */
    public static final int Q6K_D = 208;

    /**
     * Dequantizes {@code n} elements, a whole number of blocks, stored at {@code src[byteOffset..]}
     * into {@code dst[dstOffset..dstOffset+n)}.
     *
     * @throws IllegalArgumentException       if {@code n} is not a whole number of blocks
     * @throws UnsupportedOperationException if {@code type} is not {@link GgmlType#computable()}
     */
    public static void dequantize(GgmlType type, MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        checkArguments(type, n);
        Objects.checkFromIndexSize(dstOffset, n, dst.length);
        int blocks = n / type.blockElements();
        int bb = type.blockBytes();
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
                    dst[dstOffset + i] = bf16ToFloat(src.get(LE_SHORT, byteOffset + 2L * i));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < blocks; b++) {
                    dequantizeQ8_0(src, byteOffset + (long) b * bb, dst, dstOffset + b * QK);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < blocks; b++) {
                    dequantizeQ4_0(src, byteOffset + (long) b * bb, dst, dstOffset + b * QK);
                }
            }
            case Q4_1 -> {
                for (int b = 0; b < blocks; b++) {
                    dequantizeQ4_1(src, byteOffset + (long) b * bb, dst, dstOffset + b * QK);
                }
            }
            case Q4_K, Q5_K -> {
                for (int b = 0; b < blocks; b++) {
                    dequantizeQ45K(type, src, byteOffset + (long) b * bb, dst, dstOffset + b * QK_K);
                }
            }
            case Q6_K -> {
                for (int b = 0; b < blocks; b++) {
                    dequantizeQ6K(src, byteOffset + (long) b * bb, dst, dstOffset + b * QK_K);
                }
            }
            default -> throw new AssertionError(type);
        }
    }

    /**
     * Quantizes {@code n} floats, a whole number of blocks, from {@code src[srcOffset..]} into
     * {@code type}'s block format at {@code dst[byteOffset..]} ({@code type.bytesFor(n)} bytes).
     *
     * @throws IllegalArgumentException       if {@code n} is not a whole number of blocks
     * @throws UnsupportedOperationException if {@code type} is not {@link GgmlType#computable()}
     */
    public static void quantize(GgmlType type, float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        checkArguments(type, n);
        Objects.checkFromIndexSize(srcOffset, n, src.length);
        int blocks = n / type.blockElements();
        int bb = type.blockBytes();
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
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(LE_SHORT, byteOffset + 2L * i, floatToBf16(src[srcOffset + i]));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < blocks; b++) {
                    quantizeQ8_0(src, srcOffset + b * QK, dst, byteOffset + (long) b * bb);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < blocks; b++) {
                    quantizeQ4_0(src, srcOffset + b * QK, dst, byteOffset + (long) b * bb);
                }
            }
            case Q4_1 -> {
                for (int b = 0; b < blocks; b++) {
                    quantizeQ4_1(src, srcOffset + b * QK, dst, byteOffset + (long) b * bb);
                }
            }
            case Q4_K, Q5_K -> {
                for (int b = 0; b < blocks; b++) {
                    quantizeQ45K(type, src, srcOffset + b * QK_K, dst, byteOffset + (long) b * bb);
                }
            }
            case Q6_K -> {
                for (int b = 0; b < blocks; b++) {
                    quantizeQ6K(src, srcOffset + b * QK_K, dst, byteOffset + (long) b * bb);
                }
            }
            default -> throw new AssertionError(type);
        }
    }

    /** Quantizes all of {@code src} into a new heap segment of {@code type.bytesFor(src.length)} bytes. */
    public static MemorySegment quantize(GgmlType type, float[] src) {
        MemorySegment dst = MemorySegment.ofArray(new byte[Math.toIntExact(type.bytesFor(src.length))]);
        quantize(type, src, 0, src.length, dst, 0);
        return dst;
    }

    /** Dequantizes the first {@code n} elements stored at the start of {@code src} into a new array. */
    public static float[] dequantize(GgmlType type, MemorySegment src, int n) {
        float[] dst = new float[n];
        dequantize(type, src, 0, dst, 0, n);
        return dst;
    }

    private static void checkArguments(GgmlType type, int n) {
        if (!type.computable()) {
            throw new UnsupportedOperationException("no codec for " + type);
        }
        if (n < 0 || n % type.blockElements() != 0) {
            throw new IllegalArgumentException(
                    type + " stores whole blocks of " + type.blockElements() + " elements; " + n + " is not a multiple");
        }
    }

    // ---- scalar element codecs ------------------------------------------------------------------

    /** BF16 (the top 16 bits of an F32) to F32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** F32 to BF16, rounding to nearest even; NaNs stay (quiet) NaNs, infinities stay infinities. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) { // NaN: keep sign and top payload, force the quiet bit
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** A half-precision value with round-to-nearest. */
    private static float toHalfPrecision(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /**
     * The smallest half-precision value {@code h} with {@code h * steps >= need} (need &ge; 0, finite);
     * used for super-block scales so that the largest sub-block scale still fits in its bit width.
     */
    private static short halfAtLeast(float need, int steps) {
        short h = Float.floatToFloat16(need / steps);
        while (Float.float16ToFloat(h) * steps < need && h < 0x7BFF) {
            h++; // positive halves are ordered like their bit patterns
        }
        return h;
    }

    // ---- Q8_0 -------------------------------------------------------------------------------

    // block_q8_0: ggml_half d; int8_t qs[32]
    private static void dequantizeQ8_0(MemorySegment src, long off, float[] dst, int dOff) {
        float d = Float.float16ToFloat(src.get(LE_SHORT, off));
        for (int j = 0; j < QK; j++) {
            dst[dOff + j] = src.get(BYTE, off + 2 + j) * d;
        }
    }

    private static void quantizeQ8_0(float[] src, int sOff, MemorySegment dst, long off) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(src[sOff + j]));
        }
        short dh = Float.floatToFloat16(amax / 127);
        float d = Float.float16ToFloat(dh);
        float id = d == 0 ? 0 : 1 / d;
        dst.set(LE_SHORT, off, dh);
        for (int j = 0; j < QK; j++) {
            dst.set(BYTE, off + 2 + j, (byte) clamp(Math.round(src[sOff + j] * id), -127, 127));
        }
    }

    // ---- Q4_0 / Q4_1 ------------------------------------------------------------------------

    // block_q4_0: ggml_half d; uint8_t qs[16]; element j<16 = low nibble of qs[j], j>=16 = high nibble of qs[j-16]
    private static void dequantizeQ4_0(MemorySegment src, long off, float[] dst, int dOff) {
        float d = Float.float16ToFloat(src.get(LE_SHORT, off));
        for (int j = 0; j < QK / 2; j++) {
            int b = src.get(BYTE, off + 2 + j) & 0xFF;
            dst[dOff + j] = ((b & 0xF) - 8) * d;
            dst[dOff + j + QK / 2] = ((b >>> 4) - 8) * d;
        }
    }

    /**
     * ggml's convention: the element of largest magnitude, {@code xm}, sets {@code d = xm / -8} so
     * that it lands exactly on nibble 0; the grid is {@code d*(-8..7)}.
     */
    private static void quantizeQ4_0(float[] src, int sOff, MemorySegment dst, long off) {
        float amax = 0;
        float xm = 0;
        for (int j = 0; j < QK; j++) {
            float v = src[sOff + j];
            if (Math.abs(v) > amax) {
                amax = Math.abs(v);
                xm = v;
            }
        }
        short dh = Float.floatToFloat16(xm / -8);
        float d = Float.float16ToFloat(dh);
        float id = d == 0 ? 0 : 1 / d;
        dst.set(LE_SHORT, off, dh);
        packNibbles(src, sOff, id, 0, 8, dst, off + 2);
    }

    // block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]; nibble order as Q4_0, value = nibble*d + m
    private static void dequantizeQ4_1(MemorySegment src, long off, float[] dst, int dOff) {
        float d = Float.float16ToFloat(src.get(LE_SHORT, off));
        float m = Float.float16ToFloat(src.get(LE_SHORT, off + 2));
        for (int j = 0; j < QK / 2; j++) {
            int b = src.get(BYTE, off + 4 + j) & 0xFF;
            dst[dOff + j] = (b & 0xF) * d + m;
            dst[dOff + j + QK / 2] = (b >>> 4) * d + m;
        }
    }

    private static void quantizeQ4_1(float[] src, int sOff, MemorySegment dst, long off) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < QK; j++) {
            min = Math.min(min, src[sOff + j]);
            max = Math.max(max, src[sOff + j]);
        }
        short dh = Float.floatToFloat16((max - min) / 15);
        short mh = Float.floatToFloat16(min);
        float d = Float.float16ToFloat(dh);
        float m = Float.float16ToFloat(mh);
        float id = d == 0 ? 0 : 1 / d;
        dst.set(LE_SHORT, off, dh);
        dst.set(LE_SHORT, off + 2, mh);
        packNibbles(src, sOff, id, -m * id, 0, dst, off + 4);
    }

    /** qs[j] = q(j) | q(j+16) << 4 with {@code q(j) = clamp(round(x*id + shift) + bias, 0, 15)}. */
    private static void packNibbles(float[] src, int sOff, float id, float shift, int bias, MemorySegment dst, long qs) {
        for (int j = 0; j < QK / 2; j++) {
            int lo = clamp(Math.round(src[sOff + j] * id + shift) + bias, 0, 15);
            int hi = clamp(Math.round(src[sOff + j + QK / 2] * id + shift) + bias, 0, 15);
            dst.set(BYTE, qs + j, (byte) (lo | hi << 4));
        }
    }

    // ---- Q4_K / Q5_K ------------------------------------------------------------------------

    /**
     * Unpacks the 6-bit scale ({@code out[0]}) and min ({@code out[1]}) of sub-block {@code j} (0..7)
     * from {@code scales[12]} at {@code off} (ggml's {@code get_scale_min_k4}):
     * for j &lt; 4: {@code sc = scales[j] & 63}, {@code m = scales[j+4] & 63};
     * for j &ge; 4: {@code sc = (scales[j+4] & 0xF) | (scales[j-4] >> 6) << 4},
     * {@code m = (scales[j+4] >> 4) | (scales[j] >> 6) << 4}.
     */
    public static void scaleMinK4(MemorySegment src, long off, int j, int[] out) {
        if (j < 4) {
            out[0] = src.get(BYTE, off + j) & 63;
            out[1] = src.get(BYTE, off + j + 4) & 63;
        } else {
            int hi = src.get(BYTE, off + j + 4) & 0xFF;
            out[0] = (hi & 0xF) | ((src.get(BYTE, off + j - 4) & 0xFF) >>> 6) << 4;
            out[1] = (hi >>> 4) | ((src.get(BYTE, off + j) & 0xFF) >>> 6) << 4;
        }
    }

    /** The inverse of {@link #scaleMinK4}: packs eight 6-bit scales and mins into 12 bytes. */
    private static void packScaleMinK4(int[] sc, int[] mn, MemorySegment dst, long off) {
        for (int j = 0; j < 4; j++) {
            dst.set(BYTE, off + j, (byte) (sc[j] | (sc[j + 4] >>> 4) << 6));
            dst.set(BYTE, off + j + 4, (byte) (mn[j] | (mn[j + 4] >>> 4) << 6));
            dst.set(BYTE, off + j + 8, (byte) ((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4));
        }
    }

    // block_q4_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]
    // block_q5_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]
    private static void dequantizeQ45K(GgmlType type, MemorySegment src, long off, float[] dst, int dOff) {
        boolean five = type == GgmlType.Q5_K;
        float d = Float.float16ToFloat(src.get(LE_SHORT, off));
        float dmin = Float.float16ToFloat(src.get(LE_SHORT, off + 2));
        long qs = off + (five ? Q5K_QS : Q4K_QS);
        long qh = off + Q5K_QH;
        int[] sm = new int[2];
        for (int s = 0; s < 8; s++) {
            scaleMinK4(src, off + K_SCALES, s, sm);
            float scale = d * sm[0];
            float min = dmin * sm[1];
            int shift = (s & 1) * 4; // even sub-blocks: low nibbles, odd: high nibbles
            long group = qs + 32L * (s >> 1);
            for (int l = 0; l < 32; l++) {
                int q = ((src.get(BYTE, group + l) & 0xFF) >>> shift) & 0xF;
                if (five) {
                    q |= ((src.get(BYTE, qh + l) >>> s) & 1) << 4;
                }
                dst[dOff + 32 * s + l] = scale * q - min;
            }
        }
    }

    private static void quantizeQ45K(GgmlType type, float[] src, int sOff, MemorySegment dst, long off) {
        boolean five = type == GgmlType.Q5_K;
        int levels = five ? 31 : 15;
        // Per sub-block: the min is clamped to <= 0 (stored negated as a non-negative "min").
        float[] lo = new float[8];
        float[] hi = new float[8];
        float maxMin = 0;
        for (int s = 0; s < 8; s++) {
            float mn = 0;
            float mx = Float.NEGATIVE_INFINITY;
            for (int l = 0; l < 32; l++) {
                float v = src[sOff + 32 * s + l];
                mn = Math.min(mn, v);
                mx = Math.max(mx, v);
            }
            lo[s] = -mn;
            hi[s] = Math.max(mx, 0);
            maxMin = Math.max(maxMin, lo[s]);
        }
        // Mins first, rounded up so the grid's bottom reaches each sub-block's minimum ...
        short dminH = halfAtLeast(maxMin, 63);
        float dmin = Float.float16ToFloat(dminH);
        int[] mq = new int[8];
        float[] need = new float[8];
        float maxNeed = 0;
        for (int s = 0; s < 8; s++) {
            mq[s] = dmin == 0 ? 0 : clamp((int) Math.ceil(lo[s] / dmin), 0, 63);
            need[s] = (hi[s] + dmin * mq[s]) / levels;
            maxNeed = Math.max(maxNeed, need[s]);
        }
        // ... then scales, rounded up so that the top of the grid reaches each sub-block's maximum.
        short dH = halfAtLeast(maxNeed, 63);
        float d = Float.float16ToFloat(dH);
        int[] sq = new int[8];
        for (int s = 0; s < 8; s++) {
            sq[s] = d == 0 ? 0 : clamp((int) Math.ceil(need[s] / d), 0, 63);
        }
        dst.set(LE_SHORT, off, dH);
        dst.set(LE_SHORT, off + 2, dminH);
        packScaleMinK4(sq, mq, dst, off + K_SCALES);
        long qs = off + (five ? Q5K_QS : Q4K_QS);
        long qh = off + Q5K_QH;
        if (five) {
            dst.asSlice(qh, 32).fill((byte) 0);
        }
        dst.asSlice(qs, 128).fill((byte) 0);
        for (int s = 0; s < 8; s++) {
            float scale = d * sq[s];
            float min = dmin * mq[s];
            float id = scale == 0 ? 0 : 1 / scale;
            int shift = (s & 1) * 4;
            long group = qs + 32L * (s >> 1);
            for (int l = 0; l < 32; l++) {
                int q = clamp(Math.round((src[sOff + 32 * s + l] + min) * id), 0, levels);
                orByte(dst, group + l, (q & 0xF) << shift);
                if (five) {
                    orByte(dst, qh + l, (q >>> 4) << s);
                }
            }
        }
    }

    // ---- Q6_K -------------------------------------------------------------------------------

    /** Byte offset in a Q6_K block of the {@code ql} byte holding element {@code e} (0..255). */
    private static int q6Low(int e) {
        int half = e >> 7;
        int r = e & 127; // quarter r>>5 of the half, lane l = r & 31
        return 64 * half + (r & 31) + ((r >> 5) & 1) * 32;
    }

    /** Shift of element {@code e}'s nibble within its {@code ql} byte: quarters 2, 3 use the high nibble. */
    private static int q6LowShift(int e) {
        return ((e & 127) >> 6) * 4;
    }

    /** Byte offset of element {@code e}'s {@code qh} byte; its two bits are at {@code 2 * quarter}. */
    private static int q6High(int e) {
        return Q6K_QH + 32 * (e >> 7) + (e & 31);
    }

    private static int q6HighShift(int e) {
        return 2 * ((e & 127) >> 5);
    }

    /** The 6-bit quant (0..63) of element {@code e} (0..255) of the Q6_K block at {@code src[off..]}. */
    public static int q6kQuant(MemorySegment src, long off, int e) {
        int low = ((src.get(BYTE, off + q6Low(e)) & 0xFF) >>> q6LowShift(e)) & 0xF;
        int high = ((src.get(BYTE, off + q6High(e)) & 0xFF) >>> q6HighShift(e)) & 3;
        return low | high << 4;
    }

    // block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d
    private static void dequantizeQ6K(MemorySegment src, long off, float[] dst, int dOff) {
        float d = Float.float16ToFloat(src.get(LE_SHORT, off + Q6K_D));
        for (int e = 0; e < QK_K; e++) {
            int low = ((src.get(BYTE, off + q6Low(e)) & 0xFF) >>> q6LowShift(e)) & 0xF;
            int high = ((src.get(BYTE, off + q6High(e)) & 0xFF) >>> q6HighShift(e)) & 3;
            int scale = src.get(BYTE, off + Q6K_SCALES + e / 16);
            dst[dOff + e] = d * scale * ((low | high << 4) - 32);
        }
    }

    /**
     * Each sub-block of 16 gets a positive scale {@code amax/31} so that {@code q - 32} in [-31, 31]
     * covers it; the int8 scales are those divided by {@code d = max scale / 127}, rounded up.
     */
    private static void quantizeQ6K(float[] src, int sOff, MemorySegment dst, long off) {
        float[] need = new float[16];
        float maxNeed = 0;
        for (int s = 0; s < 16; s++) {
            float amax = 0;
            for (int l = 0; l < 16; l++) {
                amax = Math.max(amax, Math.abs(src[sOff + 16 * s + l]));
            }
            need[s] = amax / 31;
            maxNeed = Math.max(maxNeed, need[s]);
        }
        short dH = halfAtLeast(maxNeed, 127);
        float d = Float.float16ToFloat(dH);
        dst.asSlice(off, QK_K / 2 + QK_K / 4).fill((byte) 0);
        for (int s = 0; s < 16; s++) {
            int sc = d == 0 ? 0 : clamp((int) Math.ceil(need[s] / d), 0, 127);
            dst.set(BYTE, off + Q6K_SCALES + s, (byte) sc);
            float scale = d * sc;
            float id = scale == 0 ? 0 : 1 / scale;
            for (int l = 0; l < 16; l++) {
                int e = 16 * s + l;
                int q = clamp(Math.round(src[sOff + e] * id), -32, 31) + 32;
                orByte(dst, off + q6Low(e), (q & 0xF) << q6LowShift(e));
                orByte(dst, off + q6High(e), (q >>> 4) << q6HighShift(e));
            }
        }
        dst.set(LE_SHORT, off + Q6K_D, dH);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static void orByte(MemorySegment seg, long at, int bits) {
        seg.set(BYTE, at, (byte) (seg.get(BYTE, at) | bits));
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
