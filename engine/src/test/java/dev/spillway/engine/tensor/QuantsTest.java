package dev.spillway.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class QuantsTest {

    private static final int HALF_0_125 = 0x3000, HALF_0_25 = 0x3400, HALF_0_5 = 0x3800, HALF_MINUS_2 = 0xC000;

    // ---- hand-built blocks: bytes written from the documented layout, values worked out by hand ----

    /** Little-endian bytes of a half or 16-bit pattern. */
    private static void putShort(byte[] b, int at, int bits) {
        b[at] = (byte) bits;
        b[at + 1] = (byte) (bits >>> 8);
    }

    private static float[] decode(GgmlType type, byte[] bytes, int n) {
        return Quants.dequantize(type, MemorySegment.ofArray(bytes), n);
    }

    @Test
    void f32F16Bf16DecodeHandWrittenBytes() {
        byte[] f32 = {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0}; // 1.0f, -2.0f
        assertArrayEquals(new float[] {1f, -2f}, decode(GgmlType.F32, f32, 2));

        byte[] f16 = new byte[10];
        putShort(f16, 0, 0x3C00); // 1.0
        putShort(f16, 2, 0xC000); // -2.0
        putShort(f16, 4, 0x7BFF); // 65504, the largest half
        putShort(f16, 6, 0x0001); // 2^-24, the smallest subnormal
        putShort(f16, 8, 0xFC00); // -inf
        assertArrayEquals(new float[] {1f, -2f, 65504f, 0x1p-24f, Float.NEGATIVE_INFINITY}, decode(GgmlType.F16, f16, 5));

        byte[] bf16 = new byte[6];
        putShort(bf16, 0, 0x3F80); // 1.0
        putShort(bf16, 2, 0xC040); // -3.0
        putShort(bf16, 4, 0x7F80); // +inf
        assertArrayEquals(new float[] {1f, -3f, Float.POSITIVE_INFINITY}, decode(GgmlType.BF16, bf16, 3));
    }

    @Test
    void q8_0HandBuiltBlock() {
        byte[] b = new byte[34];
        putShort(b, 0, HALF_MINUS_2); // d = -2
        for (int j = 0; j < 32; j++) {
            b[2 + j] = (byte) (j * 9 - 128);
        }
        float[] expected = new float[32];
        for (int j = 0; j < 32; j++) {
            expected[j] = (byte) (j * 9 - 128) * -2f;
        }
        assertArrayEquals(expected, decode(GgmlType.Q8_0, b, 32));
    }

    @Test
    void q4_0HandBuiltBlock() {
        byte[] b = new byte[18];
        putShort(b, 0, HALF_0_5); // d = 0.5
        for (int j = 0; j < 16; j++) {
            b[2 + j] = (byte) (j | (15 - j) << 4);
        }
        float[] expected = new float[32];
        for (int j = 0; j < 16; j++) {
            expected[j] = (j - 8) * 0.5f;            // low nibble of qs[j]
            expected[16 + j] = (15 - j - 8) * 0.5f;  // high nibble of qs[j]
        }
        assertArrayEquals(expected, decode(GgmlType.Q4_0, b, 32));
    }

    @Test
    void q4_1HandBuiltBlock() {
        byte[] b = new byte[20];
        putShort(b, 0, HALF_0_5);     // d = 0.5
        putShort(b, 2, HALF_MINUS_2); // m = -2
        for (int j = 0; j < 16; j++) {
            b[4 + j] = (byte) ((j * 5 % 16) | (j * 3 % 16) << 4);
        }
        float[] expected = new float[32];
        for (int j = 0; j < 16; j++) {
            expected[j] = (j * 5 % 16) * 0.5f - 2f;
            expected[16 + j] = (j * 3 % 16) * 0.5f - 2f;
        }
        assertArrayEquals(expected, decode(GgmlType.Q4_1, b, 32));
    }

    /**
     * scales[12] chosen by hand; the 6-bit (scale, min) pairs they encode, worked out on paper from
     * the get_scale_min_k4 packing (top two bits of bytes 0..7 extend sub-blocks 4..7).
     */
    private static final byte[] K4_SCALES = {
            0x41, 0x02, (byte) 0xC3, 0x3F,        // sc0..3 = 1, 2, 3, 63; top bits 01, 00, 11, 00
            (byte) 0x85, 0x06, 0x47, 0x00,        // m0..3 = 5, 6, 7, 0;  top bits 10, 00, 01, 00
            0x21, 0x43, 0x65, (byte) 0x87};       // low nibbles of sc4..7, high nibbles of m4..7
    private static final int[] K4_SC = {1, 2, 3, 63, 1 | 1 << 4, 3, 5 | 3 << 4, 7};
    private static final int[] K4_M = {5, 6, 7, 0, 2 | 2 << 4, 4, 6 | 1 << 4, 8};

    @Test
    void q4_KHandBuiltBlock() {
        byte[] b = new byte[144];
        putShort(b, 0, HALF_0_25); // d
        putShort(b, 2, HALF_0_5);  // dmin
        System.arraycopy(K4_SCALES, 0, b, 4, 12);
        for (int i = 0; i < 128; i++) {
            b[16 + i] = (byte) (i * 7 + 3);
        }
        float[] expected = new float[256];
        for (int k = 0; k < 4; k++) {         // 32-byte group k holds sub-blocks 2k (low) and 2k+1 (high)
            for (int l = 0; l < 32; l++) {
                int q = b[16 + 32 * k + l] & 0xFF;
                expected[64 * k + l] = 0.25f * K4_SC[2 * k] * (q & 0xF) - 0.5f * K4_M[2 * k];
                expected[64 * k + 32 + l] = 0.25f * K4_SC[2 * k + 1] * (q >> 4) - 0.5f * K4_M[2 * k + 1];
            }
        }
        assertArrayEquals(expected, decode(GgmlType.Q4_K, b, 256));
    }

    @Test
    void q5_KHandBuiltBlock() {
        byte[] b = new byte[176];
        putShort(b, 0, HALF_0_125); // d
        putShort(b, 2, HALF_0_25);  // dmin
        System.arraycopy(K4_SCALES, 0, b, 4, 12);
        for (int l = 0; l < 32; l++) {
            b[16 + l] = (byte) (l * 37 + 11); // qh
        }
        for (int i = 0; i < 128; i++) {
            b[48 + i] = (byte) (i * 7 + 3);   // qs
        }
        float[] expected = new float[256];
        for (int s = 0; s < 8; s++) {
            for (int l = 0; l < 32; l++) {
                int qsByte = b[48 + 32 * (s / 2) + l] & 0xFF;
                int nibble = s % 2 == 0 ? qsByte & 0xF : qsByte >> 4;
                int fifth = ((b[16 + l] & 0xFF) >> s) & 1;
                expected[32 * s + l] = 0.125f * K4_SC[s] * (nibble + 16 * fifth) - 0.25f * K4_M[s];
            }
        }
        assertArrayEquals(expected, decode(GgmlType.Q5_K, b, 256));
    }

    @Test
    void q6_KHandBuiltBlock() {
        byte[] b = new byte[210];
        for (int i = 0; i < 128; i++) {
            b[i] = (byte) (i * 13 + 5);        // ql
        }
        for (int i = 0; i < 64; i++) {
            b[128 + i] = (byte) (i * 29 + 7);  // qh
        }
        for (int s = 0; s < 16; s++) {
            b[192 + s] = (byte) (s * 9 - 70);  // int8 scales, some negative
        }
        putShort(b, 208, HALF_0_125);    // d, at the end
        float[] expected = new float[256];
        for (int half = 0; half < 2; half++) {
            for (int l = 0; l < 32; l++) {
                int ql0 = b[64 * half + l] & 0xFF;
                int ql32 = b[64 * half + l + 32] & 0xFF;
                int qh = b[128 + 32 * half + l] & 0xFF;
                int[] q = {
                        (ql0 & 0xF) | (qh & 3) << 4,
                        (ql32 & 0xF) | (qh >> 2 & 3) << 4,
                        (ql0 >> 4) | (qh >> 4 & 3) << 4,
                        (ql32 >> 4) | (qh >> 6 & 3) << 4};
                for (int quarter = 0; quarter < 4; quarter++) {
                    int e = 128 * half + 32 * quarter + l;
                    int scale = b[192 + 8 * half + 2 * quarter + l / 16];
                    expected[e] = 0.125f * scale * (q[quarter] - 32);
                }
            }
        }
        assertArrayEquals(expected, decode(GgmlType.Q6_K, b, 256));
    }

    // ---- encoders -------------------------------------------------------------------------

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaN() {
        assertEquals((short) 0x3F80, Quants.floatToBf16(Float.intBitsToFloat(0x3F808000))); // tie, even below
        assertEquals((short) 0x3F82, Quants.floatToBf16(Float.intBitsToFloat(0x3F818000))); // tie, even above
        assertEquals((short) 0x3F81, Quants.floatToBf16(Float.intBitsToFloat(0x3F808001))); // above the tie
        assertEquals((short) 0x7F80, Quants.floatToBf16(Float.MAX_VALUE));                  // overflows to inf
        assertEquals((short) 0xFF80, Quants.floatToBf16(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(Quants.bf16ToFloat(Quants.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(Quants.bf16ToFloat(Quants.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
    }

    @Test
    void f16EncodesHalfPrecisionBitPatterns() {
        MemorySegment seg = Quants.quantize(GgmlType.F16, new float[] {1f, -2f, 65504f});
        assertArrayEquals(new byte[] {0x00, 0x3C, 0x00, (byte) 0xC0, (byte) 0xFF, 0x7B}, seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Test
    void q4_0PutsTheLargestMagnitudeOnNibbleZero() {
        float[] x = new float[32];
        x[5] = -3.5f;
        x[20] = 1f;
        byte[] b = Quants.quantize(GgmlType.Q4_0, x).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        assertEquals(Float.floatToFloat16(3.5f / 8), (short) ((b[0] & 0xFF) | b[1] << 8)); // d = -3.5 / -8
        assertEquals(0, b[2 + 5] & 0xF);  // -3.5 = (0 - 8) * d
        assertEquals(8 + 2, (b[2 + 4] & 0xFF) >> 4); // element 20 (high nibble of qs[4]): 1 / 0.4375 = 2.29 -> 2
    }

    // ---- round trips ------------------------------------------------------------------------

    /** Smooth values plus occasional outliers, like real weights; some blocks all positive or all negative. */
    private static float[] sample(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * (r.nextInt(16) == 0 ? 4f : 1f);
        }
        for (int i = 0; i < 32; i++) {
            x[i] = Math.abs(x[i]) + 0.5f;           // first block strictly positive
            x[n - 1 - i] = -Math.abs(x[n - 1 - i]); // last block non-positive
        }
        return x;
    }

    private static float amax(float[] x, int from, int to) {
        float a = 0;
        for (int i = from; i < to; i++) {
            a = Math.max(a, Math.abs(x[i]));
        }
        return a;
    }

    private static final float HALF_ROUNDING = 0x1p-10f; // margin for an f16 scale, relative (2 ulps)

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void roundTripErrorIsWithinTheFormatsBound(GgmlType type) {
        int n = 4 * 256;
        float[] x = sample(n, 42 + type.id());
        MemorySegment q = Quants.quantize(type, x);
        assertEquals(type.bytesFor(n), q.byteSize());
        float[] y = Quants.dequantize(type, q, n);
        int block = type.blockElements();
        for (int b = 0; b < n / block; b++) {
            for (int i = b * block; i < (b + 1) * block; i++) {
                float bound = bound(type, x, b * block, i);
                float err = Math.abs(y[i] - x[i]);
                if (!(err <= bound)) {
                    throw new AssertionError(type + " element " + i + ": " + x[i] + " -> " + y[i] + ", error " + err
                            + " > bound " + bound);
                }
            }
        }
    }

    /** The largest error the format (with this quantizer's scale rule) allows for element i of the block at b0. */
    private static float bound(GgmlType type, float[] x, int b0, int i) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 0x1p-11f * Math.abs(x[i]) + 0x1p-25f; // half an ulp of an 11-bit significand
            case BF16 -> 0x1p-8f * Math.abs(x[i]);            // half an ulp of an 8-bit significand
            case Q8_0 -> {                                     // d = amax/127, q = round(x/d)
                float amax = amax(x, b0, b0 + 32);
                yield amax / 127 / 2 + amax * HALF_ROUNDING;
            }
            case Q4_0 -> {
                // d = xm/-8: the extreme's side of zero is on the grid d*[-8, 7] (error d/2); the
                // opposite extreme may need +8 and is clamped to 7 (error up to d).
                float amax = amax(x, b0, b0 + 32);
                float xm = 0;
                for (int j = b0; j < b0 + 32; j++) {
                    if (Math.abs(x[j]) == amax) {
                        xm = x[j];
                    }
                }
                float step = amax / 8 * (1 + HALF_ROUNDING);
                yield Math.signum(x[i]) == Math.signum(xm) ? step / 2 : step;
            }
            case Q4_1 -> {                                     // d = (max-min)/15, m = min
                float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
                for (int j = b0; j < b0 + 32; j++) {
                    min = Math.min(min, x[j]);
                    max = Math.max(max, x[j]);
                }
                yield (max - min) / 30 + 16 * HALF_ROUNDING * Math.max(Math.abs(min), Math.abs(max));
            }
            case Q4_K, Q5_K -> kQuantBound(x, b0, i, type == GgmlType.Q4_K ? 15 : 31);
            case Q6_K -> {
                // sub-blocks of 16 with scale amax_s/31, its int8 multiple of d = max_s(amax_s/31)/127
                // rounded up: effective step <= amax_s/31 + d, error <= half of it.
                float maxAmax = amax(x, b0, b0 + 256);
                int s0 = b0 + (i - b0) / 16 * 16;
                float d = maxAmax / 31 / 127 * (1 + HALF_ROUNDING);
                yield (amax(x, s0, s0 + 16) / 31 + d) / 2 * (1 + HALF_ROUNDING);
            }
            default -> throw new AssertionError(type);
        };
    }

    /**
     * Q4_K/Q5_K: sub-block s of 32 covers [min(0, min_s), max(0, max_s)] with a 6-bit min of step
     * dmin = max_s(-min_s)/63 and a 6-bit scale of step d = max_s(need_s)/63, both rounded up,
     * where need_s = (range_s + dmin)/levels. The error is at most half the effective step need_s + d.
     */
    private static float kQuantBound(float[] x, int b0, int i, int levels) {
        float[] lo = new float[8], hi = new float[8];
        float maxLo = 0;
        for (int s = 0; s < 8; s++) {
            for (int j = b0 + 32 * s; j < b0 + 32 * s + 32; j++) {
                lo[s] = Math.max(lo[s], -x[j]);
                hi[s] = Math.max(hi[s], x[j]);
            }
            maxLo = Math.max(maxLo, lo[s]);
        }
        float dmin = maxLo / 63 * (1 + HALF_ROUNDING);
        float maxNeed = 0;
        for (int s = 0; s < 8; s++) {
            maxNeed = Math.max(maxNeed, (hi[s] + lo[s] + dmin) / levels);
        }
        float d = maxNeed / 63 * (1 + HALF_ROUNDING);
        int s = (i - b0) / 32;
        return ((hi[s] + lo[s] + dmin) / levels + d) / 2 * (1 + HALF_ROUNDING);
    }

    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void quantizingAtAnOffsetWritesOnlyItsBlocksAndAllZeroBlocksDecodeToZero(GgmlType type) {
        int n = 2 * type.blockElements();
        float[] x = sample(n + 256, 7);
        int rowBytes = (int) type.bytesFor(n);
        byte[] buf = new byte[rowBytes + 10];
        Arrays.fill(buf, (byte) 0x5A);
        MemorySegment seg = MemorySegment.ofArray(buf);
        Quants.quantize(type, x, 3, n, seg, 5);
        assertEquals(0x5A, buf[4]);
        assertEquals(0x5A, buf[5 + rowBytes]);
        float[] fromOffset = new float[n + 2];
        Quants.dequantize(type, seg, 5, fromOffset, 2, n);
        float[] direct = Quants.dequantize(type, Quants.quantize(type, Arrays.copyOfRange(x, 3, 3 + n)), n);
        assertArrayEquals(direct, Arrays.copyOfRange(fromOffset, 2, n + 2));

        float[] zeros = Quants.dequantize(type, Quants.quantize(type, new float[n]), n);
        assertArrayEquals(new float[n], zeros, 0f); // +0 or -0
    }

    // ---- geometry -----------------------------------------------------------------------------

    @Test
    void layoutConstantsMatchTheTypeTable() {
        assertEquals(2 + 32, GgmlType.Q8_0.blockBytes());
        assertEquals(2 + 16, GgmlType.Q4_0.blockBytes());
        assertEquals(2 + 2 + 16, GgmlType.Q4_1.blockBytes());
        assertEquals(Quants.Q4K_QS + 128, GgmlType.Q4_K.blockBytes());
        assertEquals(Quants.K_SCALES + 12, Quants.Q4K_QS);
        assertEquals(Quants.Q5K_QH + 32, Quants.Q5K_QS);
        assertEquals(Quants.Q5K_QS + 128, GgmlType.Q5_K.blockBytes());
        assertEquals(128, Quants.Q6K_QH);
        assertEquals(Quants.Q6K_QH + 64, Quants.Q6K_SCALES);
        assertEquals(Quants.Q6K_SCALES + 16, Quants.Q6K_D);
        assertEquals(Quants.Q6K_D + 2, GgmlType.Q6_K.blockBytes());
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1}) {
            assertEquals(Quants.QK, t.blockElements());
        }
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K}) {
            assertEquals(Quants.QK_K, t.blockElements());
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void quantizedSizeIsBytesForAndPartialBlocksAreRejected(GgmlType type) {
        for (int blocks = 1; blocks <= 3; blocks++) {
            int n = blocks * type.blockElements();
            assertEquals(type.bytesFor(n), Quants.quantize(type, new float[n]).byteSize());
            assertEquals((long) blocks * type.blockBytes(), type.bytesFor(n));
        }
        if (type.quantized()) {
            int n = type.blockElements() + 1;
            assertThrows(IllegalArgumentException.class, () -> Quants.quantize(type, new float[n]));
            MemorySegment seg = MemorySegment.ofArray(new byte[1024]);
            assertThrows(IllegalArgumentException.class, () -> Quants.dequantize(type, seg, 0, new float[n], 0, n));
        }
    }

    @Test
    void typesWithoutACodecAreRejected() {
        assertThrows(UnsupportedOperationException.class, () -> Quants.quantize(GgmlType.Q5_0, new float[32]));
        assertThrows(UnsupportedOperationException.class,
                () -> Quants.dequantize(GgmlType.Q2_K, MemorySegment.ofArray(new byte[84]), 256));
    }
}
