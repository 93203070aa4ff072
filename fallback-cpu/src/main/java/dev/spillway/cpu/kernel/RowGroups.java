package dev.spillway.cpu.kernel;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights repacked at load time into row groups, the layout of the
 * integer kernels {@link PackedQ4_0}, {@link PackedQ4_1}, {@link PackedQ8_0}, {@link PackedQ4_K}, {@link PackedQ5_K} and {@link PackedQ6_K}
 * (the K-quants' layouts: {@link #packQ4K}, {@link #packQ5K}, {@link #packQ6K}).
 *
 * <p>In the GGUF layout a row's blocks follow each other, so a kernel works along a row and must sum
 * each block's 32 products across the lanes of a vector before it can apply the block's scale (the
 * float kernels spend 5 floating-point ops per block on that and on turning the weights into floats).
 * Here the {@link #G} rows of a group lie side by side instead, one row per lane pair, two weights of
 * a row in adjacent 16-bit lanes:
 *
 * <pre>
 * group g (rows gG .. gG+G-1), block k: G times the file's block bytes, the same as the G blocks
 *   [0, 2G)            ggml_half d[G]        d[r] = row r's block scale
 *   [2G + 2G j, ...)   chunk j, 2G bytes:    byte 2r + p = qs_r[2j + p] (p = 0, 1)
 *     Q4_0 (block_q4_0: ggml_half d; uint8_t qs[16]): chunks j = 0..7; low nibble = element 2j + p
 *                      of row r, high nibble = element 16 + 2j + p
 *     Q4_1 (block_q4_1: ggml_half d; ggml_half m; uint8_t qs[16]): ggml_half m[G] at [2G, 4G), then the
 *                      chunks as for Q4_0 from 4G on
 *     Q8_0 (block_q8_0: ggml_half d; int8_t qs[32]):  chunks j = 0..15; element 2j + p of row r
 * </pre>
 *
 * <p>G is the float lane count (16 with AVX-512, 8 with AVX2), so a packing is made for this machine
 * and never stored. A tensor is packed only when its rows come in whole groups ({@link #packable}).
 * The activations are quantized to 8-bit blocks ({@link MatVecQ8#quantize}) and packed two per int
 * ({@link #pairs}), so that one broadcast int feeds a chunk.
 */
public final class RowGroups {
    private RowGroups() {
    }

    /** Rows per group: one per float lane. */
    public static final int G = Simd.L;
    /** 2G shorts: the full vector width. */
    static final VectorSpecies<Short> SW = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(Simd.F.vectorBitSize()));
    /** 2G bytes (half the width): one chunk, widened to {@link #SW}; or a group block's G scales. */
    static final VectorSpecies<Byte> BW = ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(Simd.F.vectorBitSize() / 2));
    private static final ValueLayout.OfShort SHORT = Simd.LE_SHORT;

    /** Whether a (rows, cols) tensor of {@code type} can be packed: Q4_0, Q4_1, Q8_0, Q4_K, Q5_K or Q6_K with whole groups of rows. */
    public static boolean packable(GgmlType type, long rows, long cols) {
        boolean blocks = switch (type) {
            case Q4_0, Q4_1, Q8_0 -> cols % Quants.QK == 0;
            case Q4_K, Q5_K, Q6_K -> cols % Quants.QK_K == 0;
            default -> false;
        };
        return blocks && rows > 0 && rows % G == 0 && cols > 0;
    }

    /**
     * Bytes of the packed tensor: the file's bytes, rearranged (Q4_K: 148 per super-block instead of
     * 144, its 6-bit scales and mins stored a byte each; Q5_K: 180 instead of 176, likewise; Q6_K:
     * 274 instead of 210, its 6-bit quants stored a byte each).
     */
    public static long bytes(GgmlType type, long rows, long cols) {
        return switch (type) {
            case Q4_K -> rows * (cols / Quants.QK_K) * Q4K_GROUP_BYTES;
            case Q5_K -> rows * (cols / Quants.QK_K) * Q5K_GROUP_BYTES;
            case Q6_K -> rows * (cols / Quants.QK_K) * Q6K_GROUP_BYTES;
            default -> rows * type.bytesFor(cols);
        };
    }

    /** Bytes per row of a Q6_K super-block in row groups: d, 16 scales, 256 quants. */
    static final int Q6K_GROUP_BYTES = 274;

    /** Bytes per row of a Q4_K super-block in row groups: d, dmin, 8 scales, 8 mins, 128 of nibbles. */
    static final int Q4K_GROUP_BYTES = 148;

    /** Bytes per row of a Q5_K super-block in row groups: Q4_K's, and 32 of fifth bits. */
    static final int Q5K_GROUP_BYTES = 180;

    /**
     * Packs row groups {@code [g0, g1)} of a Q4_0, Q4_1, Q8_0, Q4_K, Q5_K or Q6_K tensor ({@code cols} per row) into
     * {@code dst}, which holds the whole packed tensor; {@code src} holds the tensor's rows in the
     * file's layout from group {@code srcFirstGroup} on (0 for the whole tensor).
     */
    public static void pack(GgmlType type, MemorySegment src, int srcFirstGroup, int cols, MemorySegment dst, int g0, int g1) {
        if (type == GgmlType.Q4_K) {
            packQ4K(src, srcFirstGroup, cols, dst, g0, g1);
            return;
        }
        if (type == GgmlType.Q5_K) {
            packQ5K(src, srcFirstGroup, cols, dst, g0, g1);
            return;
        }
        if (type == GgmlType.Q6_K) {
            packQ6K(src, srcFirstGroup, cols, dst, g0, g1);
            return;
        }
        // Through arrays: each row of the group read in one bulk copy, the group transposed in the
        // heap, written in one bulk copy; element-wise segment reads and writes packed ~1 GB/s.
        int blocks = cols / Quants.QK;
        int shorts = blockBytes(type) / 2;   // per block: the scale (and Q4_1's offset), then the chunks' shorts
        int rowShorts = blocks * shorts;
        short[] rowsIn = new short[G * rowShorts];    // (G, blocks, shorts) the file's layout
        short[] groupOut = new short[G * rowShorts];  // (blocks, shorts, G) row groups
        for (int g = g0; g < g1; g++) {
            long s = (long) (g - srcFirstGroup) * G * rowShorts * 2;
            MemorySegment.copy(src, SHORT, s, rowsIn, 0, G * rowShorts);
            for (int r = 0; r < G; r++) {
                int in = r * rowShorts;
                for (int i = 0; i < rowShorts; i++) {
                    groupOut[i * G + r] = rowsIn[in + i];
                }
            }
            MemorySegment.copy(groupOut, 0, dst, SHORT, (long) g * G * rowShorts * 2, G * rowShorts);
        }
    }

    /**
     * Q4_K (block_q4_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]) in row
     * groups, per group and super-block (148 G bytes):
     * <pre>
     *   [0, 2G)              ggml_half d[G]
     *   [2G, 4G)             ggml_half dmin[G]
     *   [4G + G s, ...)      uint8 sc[s][G]   sub-block s = 0..7, the 6-bit scale (get_scale_min_k4)
     *   [12G + G s, ...)     uint8 m[s][G]    the 6-bit min
     *   [20G + 2G (16j + c)) chunk (j, c), j = 0..3, c = 0..15: byte 2r + p = qs_r[32j + 2c + p]; low nibble =
     *                        element 64j + 2c + p (sub-block 2j), high nibble = element 64j + 32 + 2c + p (2j + 1)
     * </pre>
     */
    private static void packQ4K(MemorySegment src, int srcFirstGroup, int cols, MemorySegment dst, int g0, int g1) {
        int blocks = cols / Quants.QK_K;
        long rowBytes = (long) blocks * 144;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < G; r++) {
                long s = ((long) (g - srcFirstGroup) * G + r) * rowBytes;
                long o = (long) g * blocks * G * Q4K_GROUP_BYTES;
                for (int b = 0; b < blocks; b++, s += 144, o += (long) G * Q4K_GROUP_BYTES) {
                    packK4Header(src, s, dst, o, r);
                    for (int chunk = 0; chunk < 64; chunk++) {   // chunk = 16 j + c; qs_r[32j + 2c] = qs_r[2 chunk]
                        dst.set(SHORT, o + 20L * G + 2L * G * chunk + 2L * r, src.get(SHORT, s + Quants.Q4K_QS + 2L * chunk));
                    }
                }
            }
        }
    }

    /** Row r's d, dmin and 6-bit scales and mins (a Q4_K or Q5_K super-block at src[s..]) into the group block at dst[o..]. */
    private static void packK4Header(MemorySegment src, long s, MemorySegment dst, long o, int r) {
        dst.set(SHORT, o + 2L * r, src.get(SHORT, s));
        dst.set(SHORT, o + 2L * G + 2L * r, src.get(SHORT, s + 2));
        long lo = src.get(Simd.LE_LONG, s + Quants.K_SCALES);
        int hi = src.get(Simd.LE_INT, s + Quants.K_SCALES + 8);
        long scales = Simd.k4Scales(lo, hi), mins = Simd.k4Mins(lo, hi);
        for (int sb = 0; sb < 8; sb++) {
            dst.set(ValueLayout.JAVA_BYTE, o + 4L * G + (long) G * sb + r, (byte) Simd.k4Byte(scales, sb));
            dst.set(ValueLayout.JAVA_BYTE, o + 12L * G + (long) G * sb + r, (byte) Simd.k4Byte(mins, sb));
        }
    }

    /**
     * Q5_K (block_q5_K: ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]) in row
     * groups, per group and super-block (180 G bytes): Q4_K's layout with a plane of the fifth bits,
     * inverted (so that {@link PackedQ5_K} forms {@code q - 16} with one subtraction), before the nibbles:
     * <pre>
     *   [0, 20G)             as Q4_K: d[G], dmin[G], the 6-bit scales and mins a byte each
     *   [20G + 2G c, ...)    chunk c = 0..15: byte 2r + p = ~qh_r[2c + p]; its bit s (sub-block s) belongs
     *                        to element 32s + 2c + p (qh_r[l] bit s is element 32s + l's fifth bit)
     *   [52G + 2G (16j + c)) nibble chunk (j, c) as Q4_K's (from qs_r[32j + 2c + p])
     * </pre>
     */
    private static void packQ5K(MemorySegment src, int srcFirstGroup, int cols, MemorySegment dst, int g0, int g1) {
        int blocks = cols / Quants.QK_K;
        long rowBytes = (long) blocks * 176;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < G; r++) {
                long s = ((long) (g - srcFirstGroup) * G + r) * rowBytes;
                long o = (long) g * blocks * G * Q5K_GROUP_BYTES;
                for (int b = 0; b < blocks; b++, s += 176, o += (long) G * Q5K_GROUP_BYTES) {
                    packK4Header(src, s, dst, o, r);
                    for (int c = 0; c < 16; c++) {   // qh_r[2c], qh_r[2c + 1], inverted
                        dst.set(SHORT, o + 20L * G + 2L * G * c + 2L * r, (short) ~src.get(SHORT, s + Quants.Q5K_QH + 2L * c));
                    }
                    for (int chunk = 0; chunk < 64; chunk++) {   // chunk = 16 j + c; qs_r[32j + 2c] = qs_r[2 chunk]
                        dst.set(SHORT, o + 52L * G + 2L * G * chunk + 2L * r, src.get(SHORT, s + Quants.Q5K_QS + 2L * chunk));
                    }
                }
            }
        }
    }

    /**
     * Q6_K (block_q6_K: uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d) in row groups,
     * per group and super-block (274 G bytes), each 6-bit quant widened to a byte with its offset of
     * 32 taken off, so that the kernel multiplies signed bytes as for Q8_0:
     * <pre>
     *   [0, 2G)             ggml_half d[G]
     *   [2G + G s, ...)     int8 scale[s][G]   sub-block s = 0..15 (16 elements each)
     *   [18G + 2G c, ...)   chunk c = 0..127: byte 2r + p = q_r[2c + p] - 32 (int8)
     * </pre>
     */
    private static void packQ6K(MemorySegment src, int srcFirstGroup, int cols, MemorySegment dst, int g0, int g1) {
        int blocks = cols / Quants.QK_K;
        long rowBytes = (long) blocks * 210;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < G; r++) {
                long s = ((long) (g - srcFirstGroup) * G + r) * rowBytes;
                long o = (long) g * blocks * G * Q6K_GROUP_BYTES;
                for (int b = 0; b < blocks; b++, s += 210, o += (long) G * Q6K_GROUP_BYTES) {
                    dst.set(SHORT, o + 2L * r, src.get(SHORT, s + Quants.Q6K_D));
                    for (int sb = 0; sb < 16; sb++) {
                        dst.set(ValueLayout.JAVA_BYTE, o + 2L * G + (long) G * sb + r, src.get(ValueLayout.JAVA_BYTE, s + Quants.Q6K_SCALES + sb));
                    }
                    for (int e = 0; e < Quants.QK_K; e++) {
                        dst.set(ValueLayout.JAVA_BYTE, o + 18L * G + 2L * G * (e / 2) + 2L * r + e % 2, (byte) (Quants.q6kQuant(src, s, e) - 32));
                    }
                }
            }
        }
    }

    private static int blockBytes(GgmlType type) {
        return switch (type) {
            case Q4_0 -> 18;   // ggml_half d; uint8_t qs[16]
            case Q4_1 -> 20;   // ggml_half d; ggml_half m; uint8_t qs[16]
            case Q8_0 -> 34;   // ggml_half d; int8_t qs[32]
            default -> throw new IllegalArgumentException("no row-group packing for " + type);
        };
    }

    /**
     * The activations as the packed kernels read them, from a row quantized by
     * {@link MatVecQ8#quantize}: {@code pairs[m] = q[2m] & 0xFFFF | q[2m+1] << 16} (two 16-bit
     * lanes, little-endian), and per block {@code sums8[k] = 8 * sum of the block's 32 values} (Q4_0's
     * offset); written as row {@code token} of {@code pairs} and {@code sums8} (rows of {@code cols/2}
     * and {@code cols/32}).
     */
    public static void pairs(short[] q, int cols, int[] pairs, int[] sums8, int token) {
        int xp = token * (cols / 2), xk = token * (cols / Quants.QK);
        for (int k = 0; k < cols / Quants.QK; k++) {
            int sum = 0;
            for (int m = 0; m < 16; m++) {
                int lo = q[Quants.QK * k + 2 * m], hi = q[Quants.QK * k + 2 * m + 1];
                pairs[xp + 16 * k + m] = lo & 0xFFFF | hi << 16;
                sum += lo + hi;
            }
            sums8[xk + k] = 8 * sum;
        }
    }

    /**
     * Rows {@code x[0 .. n*cols)} quantized ({@link MatVecQ8#quantize}) into what the packed kernels
     * read: row t's {@link #pairs}, block sums and block scales at row t of {@code pairs},
     * {@code sums8} and {@code dx}; {@code q} and {@code d} ({@code cols} and {@code cols/32} long)
     * are scratch.
     */
    public static void quantizeRows(float[] x, int n, int cols, short[] q, float[] d, int[] pairs, int[] sums8, float[] dx) {
        int blocks = cols / Quants.QK;
        for (int t = 0; t < n; t++) {
            MatVecQ8.quantize(x, t * cols, cols, q, d);
            System.arraycopy(d, 0, dx, t * blocks, blocks);
            pairs(q, cols, pairs, sums8, t);
        }
    }
}
