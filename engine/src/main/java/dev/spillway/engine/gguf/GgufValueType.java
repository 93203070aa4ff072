package dev.spillway.engine.gguf;

import java.util.Optional;

/**
 * GGUF metadata value types ({@code enum gguf_metadata_value_type} in the GGUF spec).
 * {@link #fixedSize()} is the encoded size in bytes, or 0 for variable-size STRING and ARRAY.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 0),   // uint64_t len; char string[len] (UTF-8, not NUL-terminated)
    ARRAY(9, 0),    // gguf_metadata_value_type type; uint64_t len; gguf_metadata_value_t array[len]
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private final int id;
    private final int fixedSize;

    GgufValueType(int id, int fixedSize) {
        this.id = id;
        this.fixedSize = fixedSize;
    }

    public int id() {
        return id;
    }

    /** Encoded size in bytes for scalar types; 0 for STRING and ARRAY. */
    public int fixedSize() {
        return fixedSize;
    }

    /** The smallest number of bytes one value of this type can take (a STRING or ARRAY header). */
    public int minEncodedSize() {
        return switch (this) {
            case STRING -> 8;
            case ARRAY -> 12;
            default -> fixedSize;
        };
    }

    public static Optional<GgufValueType> byId(long id) {
        for (GgufValueType t : values()) {
            if (t.id == id) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
