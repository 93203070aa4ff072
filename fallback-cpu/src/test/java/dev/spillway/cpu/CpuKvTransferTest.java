package dev.spillway.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.cpu.kernel.TestData;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.KvTransfer;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link CpuBackend#readKv}/{@link CpuBackend#writeKv}: the rows they move are the cache's storage
 * format (what {@link Quants#quantize} makes of the same floats, row after row), so a cache filled by
 * writeKv attends exactly like one filled by kvStore.
 */
class CpuKvTransferTest {
    static final AttentionShape SHAPE = new AttentionShape(8, 4, 8, 0.35f);   // kvDim 32: one block per row
    static final int CTX = 16, ROWS = 9;

    /** Rows {@code 0..rows-1} of both sides of {@code cache}, read into fresh heap segments. */
    private static MemorySegment[] read(CpuBackend b, KvCache cache, int rows) {
        MemorySegment k = MemorySegment.ofArray(new byte[(int) (rows * cache.keyType().bytesFor(cache.kvDim()))]);
        MemorySegment v = MemorySegment.ofArray(new byte[(int) (rows * cache.valueType().bytesFor(cache.kvDim()))]);
        b.readKv(cache, rows, k, v);
        return new MemorySegment[] {k, v};
    }

    private static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        assertEquals(expected.byteSize(), actual.byteSize(), what + ": size");
        assertEquals(-1, expected.mismatch(actual), what + ": first differing byte");
    }

    private static float[] attend(CpuBackend b, KvCache cache, float[] q, int startPos, int n) {
        try (Activations qa = b.allocateActivations(n, SHAPE.qDim());
             Activations out = b.allocateActivations(n, SHAPE.qDim())) {
            b.write(qa, q, n);
            b.attention(out, qa, cache, SHAPE, startPos, n);
            float[] r = new float[n * SHAPE.qDim()];
            b.read(out, r, n);
            return r;
        }
    }

    private static void kvStore(CpuBackend b, KvCache cache, float[] k, float[] v, int rows) {
        try (Activations ka = b.allocateActivations(rows, cache.kvDim());
             Activations va = b.allocateActivations(rows, cache.kvDim())) {
            b.write(ka, k, rows);
            b.write(va, v, rows);
            b.kvStore(cache, ka, va, 0, rows);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void writeKvTakesTheStorageFormatAndAttendsLikeKvStore(GgmlType type) {
        GgmlType valueType = type == GgmlType.F16 ? GgmlType.Q8_0 : type;   // K and V of different types once
        int kvDim = SHAPE.kvDim();
        Random r = new Random(type.id() + 7);
        float[] k = TestData.gaussian(r, ROWS * kvDim, 1f);
        float[] v = TestData.gaussian(r, ROWS * kvDim, 1f);
        float[] q = TestData.gaussian(r, 3 * SHAPE.qDim(), 1f);
        MemorySegment kBytes = Quants.quantize(type, k);        // heap, the reference encoding
        MemorySegment vBytes = Quants.quantize(valueType, v);
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2));
             KvCache stored = b.allocateKv(CTX, kvDim, type, valueType);
             KvCache written = b.allocateKv(CTX, kvDim, type, valueType);
             Arena arena = Arena.ofConfined()) {
            kvStore(b, stored, k, v, ROWS);
            MemorySegment[] fromStore = read(b, stored, ROWS);
            assertSameBytes(kBytes, fromStore[0], type + " K rows kvStore wrote");
            assertSameBytes(vBytes, fromStore[1], valueType + " V rows kvStore wrote");

            // native segments in, heap segments out: the bytes come back unchanged
            MemorySegment kNative = arena.allocate(kBytes.byteSize()).copyFrom(kBytes);
            MemorySegment vNative = arena.allocate(vBytes.byteSize()).copyFrom(vBytes);
            b.writeKv(written, ROWS, kNative, vNative);
            kNative.fill((byte) 0);   // the cache holds its own copy
            MemorySegment[] back = read(b, written, ROWS);
            assertSameBytes(kBytes, back[0], "K round trip");
            assertSameBytes(vBytes, back[1], "V round trip");

            // attention over the last 3 positions (keys 0..8) sees the same cache either way
            assertArrayEquals(attend(b, stored, q, ROWS - 3, 3), attend(b, written, q, ROWS - 3, 3),
                    "attention over rows from writeKv and from kvStore");

            // writeKv touches rows 0..rows-1 only
            MemorySegment[] other = read(b, written, ROWS);
            Quants.quantize(type, TestData.gaussian(r, 4 * kvDim, 2f), 0, 4 * kvDim, other[0], 0);
            Quants.quantize(valueType, TestData.gaussian(r, 4 * kvDim, 2f), 0, 4 * kvDim, other[1], 0);
            b.writeKv(written, 4, other[0], other[1]);
            MemorySegment[] mixed = read(b, written, ROWS);
            assertSameBytes(other[0], mixed[0], "K rows 0..3 new, 4..8 unchanged");
            assertSameBytes(other[1], mixed[1], "V rows 0..3 new, 4..8 unchanged");
            assertSameBytes(kBytes.asSlice(4 * type.bytesFor(kvDim)), mixed[0].asSlice(4 * type.bytesFor(kvDim)),
                    "K rows 4..8 as first written");
        }
    }

    @Test
    void kvTransferCopiesBetweenTwoBackends() {
        int kvDim = SHAPE.kvDim();
        Random r = new Random(11);
        float[] k = TestData.gaussian(r, ROWS * kvDim, 1f);
        float[] v = TestData.gaussian(r, ROWS * kvDim, 1f);
        float[] q = TestData.gaussian(r, 2 * SHAPE.qDim(), 1f);
        try (CpuBackend a = new CpuBackend(new CpuBackend.Options(1));
             CpuBackend b = new CpuBackend(new CpuBackend.Options(2));
             KvCache src = a.allocateKv(CTX, kvDim, GgmlType.Q4_0, GgmlType.BF16);
             KvCache dst = b.allocateKv(ROWS, kvDim, GgmlType.Q4_0, GgmlType.BF16)) {   // a smaller context is fine
            kvStore(a, src, k, v, ROWS);
            KvTransfer.copy(a, src, b, dst, ROWS);
            MemorySegment[] s = read(a, src, ROWS);
            MemorySegment[] d = read(b, dst, ROWS);
            assertSameBytes(s[0], d[0], "K");
            assertSameBytes(s[1], d[1], "V");
            assertArrayEquals(attend(a, src, q, ROWS - 2, 2), attend(b, dst, q, ROWS - 2, 2));
            KvTransfer.copy(a, src, b, dst, 0);   // nothing to move is fine
        }
    }

    @Test
    void badArgumentsAreRejected() {
        int kvDim = SHAPE.kvDim();
        try (CpuBackend a = new CpuBackend(new CpuBackend.Options(1));
             CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             KvCache kv = a.allocateKv(4, kvDim, GgmlType.Q8_0, GgmlType.F16);
             KvCache f16 = a.allocateKv(4, kvDim, GgmlType.F16, GgmlType.F16);
             KvCache wide = a.allocateKv(4, 2 * kvDim, GgmlType.Q8_0, GgmlType.F16);
             KvCache other = b.allocateKv(8, kvDim, GgmlType.Q8_0, GgmlType.F16)) {
            long kRow = GgmlType.Q8_0.bytesFor(kvDim), vRow = GgmlType.F16.bytesFor(kvDim);
            MemorySegment k = MemorySegment.ofArray(new byte[(int) (8 * kRow)]);
            MemorySegment v = MemorySegment.ofArray(new byte[(int) (8 * vRow)]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.readKv(kv, 5, k, v));
            assertTrue(e.getMessage().contains("readKv") && e.getMessage().contains("5"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.writeKv(kv, 5, k, v));
            assertThrows(IllegalArgumentException.class, () -> a.readKv(kv, -1, k, v));
            e = assertThrows(IllegalArgumentException.class, () -> a.writeKv(kv, 4, k.asSlice(0, 4 * kRow - 1), v));
            assertTrue(e.getMessage().contains("keys"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> a.readKv(kv, 4, k, v.asSlice(0, 3 * vRow)));
            assertTrue(e.getMessage().contains("values"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.readKv(kv, 4, k.asReadOnly(), v));
            a.writeKv(kv, 4, k.asReadOnly(), v.asReadOnly());   // a source may be read-only
            e = assertThrows(IllegalArgumentException.class, () -> a.readKv(other, 1, k, v));
            assertTrue(e.getMessage().contains("does not belong"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> b.writeKv(kv, 1, k, v));

            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(a, kv, b, other, 5));   // past src
            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(b, other, a, kv, 5));   // past dst
            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(a, kv, a, f16, 1));     // key types
            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(a, kv, a, wide, 1));    // kvDim
            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(b, kv, a, f16, 1));     // kv is not b's
            assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(a, kv, a, other, 1));   // other is not a's

            KvCache closed = a.allocateKv(4, kvDim, GgmlType.Q8_0, GgmlType.F16);
            closed.close();
            assertThrows(IllegalStateException.class, () -> a.readKv(closed, 1, k, v));
            assertThrows(IllegalStateException.class, () -> a.writeKv(closed, 1, k, v));
        }
    }
}
