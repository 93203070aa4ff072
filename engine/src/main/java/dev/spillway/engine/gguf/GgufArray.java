package dev.spillway.engine.gguf;

import dev.spillway.engine.util.Printable;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * A GGUF metadata array. {@code values} is a Java array matching {@code elementType}:
 * {@code byte[]} (UINT8/INT8), {@code short[]} (UINT16/INT16), {@code int[]} (UINT32/INT32),
 * {@code long[]} (UINT64/INT64), {@code float[]}, {@code double[]}, {@code boolean[]},
 * {@code String[]} or, for nested arrays, {@code GgufArray[]}.
 */
public record GgufArray(GgufValueType elementType, Object values) {

    public GgufArray {
        Objects.requireNonNull(elementType, "elementType");
        Objects.requireNonNull(values, "values");
        Class<?> expected = switch (elementType) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufArray[].class;
        };
        if (values.getClass() != expected) {
            throw new IllegalArgumentException(elementType + " array must be a " + expected.getSimpleName());
        }
    }

    public int length() {
        return java.lang.reflect.Array.getLength(values);
    }

    public String[] asStrings() {
        if (elementType != GgufValueType.STRING) {
            throw new IllegalStateException("expected an array of STRING, found an array of " + elementType);
        }
        return (String[]) values;
    }

    /** FLOAT32 elements as-is; FLOAT64 elements narrowed. */
    public float[] asFloats() {
        return switch (elementType) {
            case FLOAT32 -> (float[]) values;
            case FLOAT64 -> {
                double[] d = (double[]) values;
                float[] f = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    f[i] = (float) d[i];
                }
                yield f;
            }
            default -> throw new IllegalStateException("expected an array of floats, found an array of " + elementType);
        };
    }

    /** Integer elements of up to 32 bits as ints (unsigned 8- and 16-bit types zero-extended). */
    public int[] asInts() {
        int n = length();
        int[] out = new int[n];
        switch (elementType) {
            case UINT8 -> { byte[] a = (byte[]) values; for (int i = 0; i < n; i++) out[i] = a[i] & 0xFF; }
            case INT8 -> { byte[] a = (byte[]) values; for (int i = 0; i < n; i++) out[i] = a[i]; }
            case UINT16 -> { short[] a = (short[]) values; for (int i = 0; i < n; i++) out[i] = a[i] & 0xFFFF; }
            case INT16 -> { short[] a = (short[]) values; for (int i = 0; i < n; i++) out[i] = a[i]; }
            case UINT32, INT32 -> System.arraycopy((int[]) values, 0, out, 0, n);
            default -> throw new IllegalStateException("expected an array of integers, found an array of " + elementType);
        }
        return out;
    }

    public String display(int maxItems) {
        int n = length();
        StringJoiner j = new StringJoiner(", ", "[", "]");
        for (int i = 0; i < Math.min(n, maxItems); i++) {
            Object v = java.lang.reflect.Array.get(values, i);
            j.add(v instanceof String s ? '"' + Printable.escape(s) + '"' : v instanceof GgufArray a ? a.display(maxItems) : String.valueOf(v));
        }
        if (n > maxItems) {
            j.add("... " + (n - maxItems) + " more");
        }
        return elementType + "[" + n + "] " + j;
    }
}
