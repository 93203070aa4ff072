package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class SimdTest {

    @Test
    void speciesHaveMatchingLaneCounts() {
        System.out.println("Simd: " + Simd.F + ", bytes " + Simd.B + ", shorts " + Simd.S);
        assertTrue(Simd.L >= 8 && Simd.L <= 16 && 16 % Simd.L == 0, "L = " + Simd.L);
        assertEquals(Simd.L, Simd.B.length());
        assertEquals(Simd.L, Simd.S.length());
        assertEquals(Simd.L, Simd.I.length());
        assertEquals(Simd.F.vectorBitSize(), Simd.I.vectorBitSize());
    }

    @Test
    void sumAddsInButterflyOrder() {
        float[] v = new float[Simd.L];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 3 == 0 ? 1e8f : 1f) * (i + 1) * (i % 2 == 0 ? 1 : -1) + 0.3f * i;
        }
        float[] w = v.clone(); // butterfly: w[i] += w[i ^ d] for d = L/2 .. 1, then lane 0
        for (int d = Simd.L / 2; d >= 1; d /= 2) {
            float[] next = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                next[i] = w[i] + w[i ^ d];
            }
            w = next;
        }
        assertEquals(w[0], Simd.sum(FloatVector.fromArray(Simd.F, v, 0)));
    }

    @Test
    void kQuantScaleUnpackingMatchesTheScalarCodec() {
        byte[] scales = {0x41, 0x02, (byte) 0xC3, 0x3F, (byte) 0x85, 0x06, 0x47, (byte) 0xF0, 0x21, 0x43, 0x65, (byte) 0x87};
        MemorySegment seg = MemorySegment.ofArray(scales);
        long lo = seg.get(Simd.LE_LONG, 0);
        int hi = seg.get(Simd.LE_INT, 8);
        int[] sm = new int[2];
        for (int j = 0; j < 8; j++) {
            dev.spillway.engine.tensor.Quants.scaleMinK4(seg, 0, j, sm);
            assertEquals(sm[0], Simd.kScale(lo, hi, j), "scale " + j);
            assertEquals(sm[1], Simd.kMin(lo, hi, j), "min " + j);
        }
    }
}
