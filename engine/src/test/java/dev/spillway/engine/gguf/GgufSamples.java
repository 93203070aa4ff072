package dev.spillway.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Sample metadata and tensors for the GGUF tests, and deep comparison of values. */
final class GgufSamples {
    private GgufSamples() {
    }

    static final String NON_ASCII = "héllo wörld ✓ 日本語 🦙";

    /** One pair of every scalar type (with edge values), strings, and arrays of every element type. */
    static Map<String, GgufValue> everyValueType() {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.architecture", GgufValue.ofString("llama"));
        m.put("t.uint8", new GgufValue(GgufValueType.UINT8, (byte) 0xFF));
        m.put("t.int8", new GgufValue(GgufValueType.INT8, (byte) -128));
        m.put("t.uint16", new GgufValue(GgufValueType.UINT16, (short) 0xFFFE));
        m.put("t.int16", new GgufValue(GgufValueType.INT16, (short) -12345));
        m.put("t.uint32", GgufValue.ofUint32(0xFFFFFFFF));
        m.put("t.int32", GgufValue.ofInt32(Integer.MIN_VALUE));
        m.put("t.float32", GgufValue.ofFloat32(-1.5e-5f));
        m.put("t.float32_nan", GgufValue.ofFloat32(Float.NaN));
        m.put("t.bool_true", GgufValue.ofBool(true));
        m.put("t.bool_false", GgufValue.ofBool(false));
        m.put("t.string", GgufValue.ofString(NON_ASCII));
        m.put("t.string_empty", GgufValue.ofString(""));
        m.put("t.uint64", GgufValue.ofUint64(-1L));
        m.put("t.int64", new GgufValue(GgufValueType.INT64, Long.MIN_VALUE));
        m.put("t.float64", new GgufValue(GgufValueType.FLOAT64, Math.PI));
        m.put("a.uint8", arr(GgufValueType.UINT8, new byte[] {0, 1, (byte) 255}));
        m.put("a.int8", arr(GgufValueType.INT8, new byte[] {-1, 127}));
        m.put("a.uint16", arr(GgufValueType.UINT16, new short[] {1, (short) 65535}));
        m.put("a.int16", arr(GgufValueType.INT16, new short[] {-2, 300}));
        m.put("a.uint32", arr(GgufValueType.UINT32, new int[] {7, -1}));
        m.put("a.int32", arr(GgufValueType.INT32, new int[] {2, 1, 3, -4}));
        m.put("a.float32", arr(GgufValueType.FLOAT32, new float[] {0.5f, -0f, Float.POSITIVE_INFINITY}));
        m.put("a.bool", arr(GgufValueType.BOOL, new boolean[] {true, false, true}));
        m.put("a.string", arr(GgufValueType.STRING, new String[] {"<unk>", "", NON_ASCII, "▁the"}));
        m.put("a.uint64", arr(GgufValueType.UINT64, new long[] {Long.MIN_VALUE, 3}));
        m.put("a.int64", arr(GgufValueType.INT64, new long[] {-5, Long.MAX_VALUE}));
        m.put("a.float64", arr(GgufValueType.FLOAT64, new double[] {1e300, -2.25}));
        m.put("a.empty_uint8", arr(GgufValueType.UINT8, new byte[0]));
        m.put("a.empty_string", arr(GgufValueType.STRING, new String[0]));
        m.put("a.nested", arr(GgufValueType.ARRAY, new GgufArray[] {
                new GgufArray(GgufValueType.INT32, new int[] {1, 2}),
                new GgufArray(GgufValueType.INT32, new int[0]),
                new GgufArray(GgufValueType.STRING, new String[] {"x", NON_ASCII})}));
        m.put("a.nested2", arr(GgufValueType.ARRAY, new GgufArray[] {
                new GgufArray(GgufValueType.ARRAY, new GgufArray[] {new GgufArray(GgufValueType.BOOL, new boolean[] {true})}),
                new GgufArray(GgufValueType.ARRAY, new GgufArray[0])}));
        m.put("a.empty_nested", arr(GgufValueType.ARRAY, new GgufArray[0]));
        return m;
    }

    static GgufValue arr(GgufValueType elementType, Object values) {
        return GgufValue.ofArray(new GgufArray(elementType, values));
    }

    static float[] randomFloats(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    /**
     * A small but complete file: every value type, then an F32 and an F16 tensor. Used where every
     * byte of a file matters (truncation, fuzzing).
     */
    static GgufWriter smallWriter() {
        GgufWriter w = new GgufWriter();
        everyValueType().forEach(w::put);
        Random rnd = new Random(7);
        w.addTensor("a.weight", GgmlType.F32, new long[] {4, 2}, randomFloats(rnd, 8));
        w.addTensor("b.weight", GgmlType.F16, new long[] {6}, randomFloats(rnd, 6));
        return w;
    }

    static void assertValueEquals(String key, GgufValue expected, GgufValue actual) {
        assertEquals(expected.type(), actual.type(), key);
        if (expected.type() == GgufValueType.ARRAY) {
            assertGgufArrayEquals(expected.asArray(), actual.asArray(), key);
        } else {
            assertEquals(expected.value(), actual.value(), key); // boxed Float/Double equality is bitwise (NaN == NaN)
        }
    }

    static void assertGgufArrayEquals(GgufArray expected, GgufArray actual, String key) {
        assertEquals(expected.elementType(), actual.elementType(), key);
        assertEquals(expected.length(), actual.length(), key);
        if (expected.elementType() == GgufValueType.ARRAY) {
            GgufArray[] e = (GgufArray[]) expected.values();
            GgufArray[] a = (GgufArray[]) actual.values();
            for (int i = 0; i < e.length; i++) {
                assertGgufArrayEquals(e[i], a[i], key + "[" + i + "]");
            }
        } else {
            assertTrue(java.util.Objects.deepEquals(expected.values(), actual.values()), key + ": elements differ");
        }
    }

    static void assertMetadataEquals(Map<String, GgufValue> expected, Map<String, GgufValue> actual) {
        assertEquals(java.util.List.copyOf(expected.keySet()), java.util.List.copyOf(actual.keySet()), "keys in order");
        expected.forEach((k, v) -> assertValueEquals(k, v, actual.get(k)));
    }
}
