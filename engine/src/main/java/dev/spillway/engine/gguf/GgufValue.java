package dev.spillway.engine.gguf;

import dev.spillway.engine.util.Printable;
import java.util.Objects;

/**
 * One GGUF metadata value.
 *
 * <p>{@code value} holds, by {@link GgufValueType}: UINT8/INT8 a {@link Byte}, UINT16/INT16 a
 * {@link Short}, UINT32/INT32 an {@link Integer}, UINT64/INT64 a {@link Long} (unsigned types keep
 * their bit pattern), FLOAT32 a {@link Float}, FLOAT64 a {@link Double}, BOOL a {@link Boolean},
 * STRING a {@link String}, ARRAY a {@link GgufArray}.
 */
public record GgufValue(GgufValueType type, Object value) {

    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        Class<?> expected = switch (type) {
            case UINT8, INT8 -> Byte.class;
            case UINT16, INT16 -> Short.class;
            case UINT32, INT32 -> Integer.class;
            case UINT64, INT64 -> Long.class;
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> GgufArray.class;
        };
        if (!expected.isInstance(value)) {
            throw new IllegalArgumentException(type + " value must be a " + expected.getSimpleName()
                    + ", not " + value.getClass().getSimpleName());
        }
    }

    public static GgufValue ofString(String s) {
        return new GgufValue(GgufValueType.STRING, s);
    }

    public static GgufValue ofUint32(int v) {
        return new GgufValue(GgufValueType.UINT32, v);
    }

    public static GgufValue ofInt32(int v) {
        return new GgufValue(GgufValueType.INT32, v);
    }

    public static GgufValue ofUint64(long v) {
        return new GgufValue(GgufValueType.UINT64, v);
    }

    public static GgufValue ofFloat32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, v);
    }

    public static GgufValue ofBool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v);
    }

    public static GgufValue ofArray(GgufArray a) {
        return new GgufValue(GgufValueType.ARRAY, a);
    }

    /** Whether this is one of the integer types. */
    public boolean isInteger() {
        return switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /**
     * The value of any integer type as a long (unsigned types zero-extended).
     *
     * @throws IllegalStateException if this is not an integer or a UINT64 exceeds Long.MAX_VALUE
     */
    public long asLong() {
        return switch (type) {
            case UINT8 -> Byte.toUnsignedLong((Byte) value);
            case INT8 -> (Byte) value;
            case UINT16 -> Short.toUnsignedLong((Short) value);
            case INT16 -> (Short) value;
            case UINT32 -> Integer.toUnsignedLong((Integer) value);
            case INT32 -> (Integer) value;
            case INT64 -> (Long) value;
            case UINT64 -> {
                long v = (Long) value;
                if (v < 0) {
                    throw new IllegalStateException("UINT64 value " + Long.toUnsignedString(v) + " does not fit a long");
                }
                yield v;
            }
            default -> throw new IllegalStateException("expected an integer, found " + type);
        };
    }

    /** The value of any integer type as an int, checked for range. */
    public int asInt() {
        long v = asLong();
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalStateException("integer " + v + " does not fit an int");
        }
        return (int) v;
    }

    /** A FLOAT32 or FLOAT64 (or an integer) as a double. */
    public double asDouble() {
        return switch (type) {
            case FLOAT32 -> (Float) value;
            case FLOAT64 -> (Double) value;
            default -> {
                if (isInteger()) {
                    yield asLong();
                }
                throw new IllegalStateException("expected a number, found " + type);
            }
        };
    }

    public float asFloat() {
        return (float) asDouble();
    }

    public boolean asBool() {
        if (type != GgufValueType.BOOL) {
            throw new IllegalStateException("expected BOOL, found " + type);
        }
        return (Boolean) value;
    }

    public String asString() {
        if (type != GgufValueType.STRING) {
            throw new IllegalStateException("expected STRING, found " + type);
        }
        return (String) value;
    }

    public GgufArray asArray() {
        if (type != GgufValueType.ARRAY) {
            throw new IllegalStateException("expected ARRAY, found " + type);
        }
        return (GgufArray) value;
    }

    /**
     * A short human-readable rendering (arrays abbreviated), for {@code spillway info}; strings have
     * their control characters escaped ({@link Printable#escape}).
     */
    public String display(int maxArrayItems) {
        return switch (type) {
            case STRING -> '"' + Printable.escape((String) value) + '"';
            case ARRAY -> ((GgufArray) value).display(maxArrayItems);
            case UINT8, UINT16, UINT32, UINT64 -> type == GgufValueType.UINT64
                    ? Long.toUnsignedString((Long) value) : Long.toString(asLong());
            default -> String.valueOf(value);
        };
    }
}
