package dev.spillway.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
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
    void sumLanesEqualsLaneZeroOfAVectorButterfly() {
        Random r = new Random(4);
        for (int round = 0; round < 100; round++) {
            float[] v = new float[Simd.L];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6)); // mixed magnitudes: order matters
            }
            FloatVector b = FloatVector.fromArray(Simd.F, v, 0);
            for (int d = Simd.L / 2; d >= 1; d /= 2) {
                int dd = d;
                b = b.add(b.rearrange(VectorShuffle.fromOp(Simd.F, i -> i ^ dd)));
            }
            assertEquals(Float.floatToIntBits(b.lane(0)), Float.floatToIntBits(Simd.sumLanes(v.clone(), 0)));
        }
    }

    @Test
    void sumEachIsSumLanesBitForBit() {
        Random r = new Random(7);
        int l = Simd.L;
        for (int round = 0; round < 50; round++) {
            int n = 1 + round % l;
            float[] rows = new float[3 + l * l];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6));
            }
            for (int i = 3 + n * l; i < rows.length; i++) {
                rows[i] = round % 2 == 0 ? Float.NaN : Float.POSITIVE_INFINITY; // unused rows must not leak in
            }
            float[] out = new float[n + 2];
            Simd.sumEach(rows.clone(), 3, n, out, 1);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(Simd.sumLanes(rows.clone(), 3 + i * l)), Float.floatToIntBits(out[1 + i]),
                        "row " + i + " of " + n);
            }
        }
    }

    @Test
    void kQuantScaleUnpackingMatchesTheScalarCodec() {
        byte[] packed = {0x41, 0x02, (byte) 0xC3, 0x3F, (byte) 0x85, 0x06, 0x47, (byte) 0xF0, 0x21, 0x43, 0x65, (byte) 0x87};
        MemorySegment seg = MemorySegment.ofArray(packed);
        long scales = Simd.k4Scales(seg.get(Simd.LE_LONG, 0), seg.get(Simd.LE_INT, 8));
        long mins = Simd.k4Mins(seg.get(Simd.LE_LONG, 0), seg.get(Simd.LE_INT, 8));
        int[] sm = new int[2];
        for (int j = 0; j < 8; j++) {
            dev.spillway.engine.tensor.Quants.scaleMinK4(seg, 0, j, sm);
            assertEquals(sm[0], Simd.k4Byte(scales, j), "scale " + j);
            assertEquals(sm[1], Simd.k4Byte(mins, j), "min " + j);
        }
    }
}
