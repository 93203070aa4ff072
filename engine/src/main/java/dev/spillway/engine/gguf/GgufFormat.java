package dev.spillway.engine.gguf;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Facts of the GGUF format and the limits Spillway applies, shared by {@link GgufFile} and
 * {@link GgufWriter}.
 *
 * <pre>
 * struct gguf_header_t {
 *     uint32_t magic;              // "GGUF": the bytes 47 47 55 46, 0x46554747 read little-endian
 *     uint32_t version;            // 2 or 3 here; 1 used 32-bit counts and lengths
 *     uint64_t tensor_count;
 *     uint64_t metadata_kv_count;
 *     gguf_metadata_kv_t metadata_kv[metadata_kv_count];
 * };
 * gguf_tensor_info_t tensor_infos[tensor_count];
 * uint8_t _padding[];              // to a multiple of general.alignment (default 32)
 * uint8_t tensor_data[];           // each tensor at a multiple of general.alignment
 * </pre>
 * All multi-byte fields are little-endian (big-endian GGUF files exist but are not supported).
 */
final class GgufFormat {
    private GgufFormat() {
    }

    /** {@code uint32_t magic}: the ASCII bytes "GGUF" read as a little-endian int. */
    static final int MAGIC = 0x46554747;
    static final int DEFAULT_VERSION = 3;
    static final int DEFAULT_ALIGNMENT = 32;
    static final String ALIGNMENT_KEY = "general.alignment";
    /** ggml's GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;
    /** The spec: a key "must be at most 2^16-1 bytes long". */
    static final int MAX_KEY_BYTES = 0xFFFF;
    /** The spec: a tensor name has "a maximum of 64 bytes". */
    static final int MAX_TENSOR_NAME_BYTES = 64;
    /** llama.cpp rejects names of GGML_MAX_NAME (64) bytes or more, so the writer stays below. */
    static final int MAX_WRITTEN_TENSOR_NAME_BYTES = 63;
    /** Spillway's limit on one metadata string value (real ones are at most a few hundred KiB). */
    static final long MAX_STRING_BYTES = 1L << 28;
    /** Spillway's limit on the elements of one metadata array (vocabularies have ~10^5 to 10^6). */
    static final long MAX_ARRAY_ELEMENTS = 1L << 28;
    /** Spillway's limit on arrays of arrays: a top-level array has depth 1. */
    static final int MAX_ARRAY_DEPTH = 8;

    /** The smallest tensor info: empty name (8), n_dimensions (4), one dimension (8), type (4), offset (8). */
    static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** The smallest metadata pair: empty key (8), value type (4), a one-byte value. */
    static final int MIN_KV_BYTES = 8 + 4 + 1;

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * The little-endian layout of one element of a fixed-size numeric array type, matching the Java
     * array {@link GgufArray} holds for it; null for BOOL, STRING and ARRAY.
     */
    static ValueLayout numericLayout(GgufValueType type) {
        return switch (type) {
            case UINT8, INT8 -> ValueLayout.JAVA_BYTE;
            case UINT16, INT16 -> LE_SHORT;
            case UINT32, INT32 -> LE_INT;
            case UINT64, INT64 -> LE_LONG;
            case FLOAT32 -> LE_FLOAT;
            case FLOAT64 -> LE_DOUBLE;
            case BOOL, STRING, ARRAY -> null;
        };
    }

    static boolean isPowerOfTwo(long v) {
        return v > 0 && (v & (v - 1)) == 0;
    }

    /** {@code v} rounded up to a multiple of {@code alignment}, a power of two; {@code v} must be non-negative. */
    static long alignUp(long v, long alignment) {
        assert v >= 0 && isPowerOfTwo(alignment);
        return Math.addExact(v, alignment - 1) & -alignment;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static String unsigned(long v) {
        return Long.toUnsignedString(v);
    }
}
