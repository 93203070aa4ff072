package dev.spillway.offload.opencl;

import static dev.spillway.offload.contract.BackendOpsContract.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.KvTransfer;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.ScratchShape;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.offload.device.DeviceBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Moving KV rows between the OpenCL device backend and the CPU backend ({@link Backend#readKv},
 * {@link Backend#writeKv}, {@link KvTransfer#copy}), in every cache type: after the move, attention
 * on the destination over the moved rows, and over a token stored after them, matches attention on
 * the source within {@link DeviceOpsTest}'s tolerance for the type. Also the up-front reservation of
 * the device's RoPE scratch ({@link DeviceBackend#reserveScratch}).
 */
class DeviceKvTransferTest extends DeviceAndCpu {

    private Activations activations(Backend b, int rows, int cols, float[] data) {
        Activations a = own(b.allocateActivations(rows, cols));
        if (data != null) {
            b.write(a, data, rows);
        }
        return a;
    }

    private static float[] read(Backend b, Activations a, int rows) {
        float[] out = new float[rows * a.cols()];
        b.read(a, out, rows);
        return out;
    }

    /** DeviceOpsTest's attention tolerance: by the coarser of the two cache types. */
    private static double tolerance(GgmlType k, GgmlType v) {
        List<GgmlType> order = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0);
        return switch (order.get(Math.max(order.indexOf(k), order.indexOf(v)))) {
            case F32 -> 2e-5;
            case F16, BF16 -> 1e-4;
            default -> 1e-3;
        };
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (GgmlType t : DeviceBackendTypes.KV) {
            cases.add(Arguments.of(t, t, "device to cpu"));
            cases.add(Arguments.of(t, t, "cpu to device"));
        }
        cases.add(Arguments.of(GgmlType.Q8_0, GgmlType.F16, "device to cpu"));
        cases.add(Arguments.of(GgmlType.BF16, GgmlType.Q4_0, "cpu to device"));
        return cases.stream();
    }

    /**
     * 70 tokens stored on the source in batches of 66 and 4, moved with {@link KvTransfer#copy} to a
     * fresh cache on the other backend; then on both sides attention of the last 4 of those tokens,
     * and a 71st token stored and attended to (generation going on), compared with the source.
     */
    @ParameterizedTest(name = "K {0} V {1}, {2}")
    @MethodSource("cases")
    void attentionOverMovedRowsMatchesTheSource(GgmlType kType, GgmlType vType, String direction) {
        Backend from = direction.startsWith("device") ? device : cpu;
        Backend to = from == device ? cpu : device;
        AttentionShape shape = new AttentionShape(8, 2, 64, 0.125f);   // grouped-query, 4 query heads per KV head
        int nCtx = 80, rows = 70;
        Random r = new Random(kType.id() * 31L + vType.id() + (from == device ? 0 : 1000));
        KvCache src = own(from.allocateKv(nCtx, shape.kvDim(), kType, vType));
        KvCache dst = own(to.allocateKv(nCtx, shape.kvDim(), kType, vType));
        Activations[] fromIo = io(from, shape);
        Activations[] toIo = io(to, shape);
        int pos = 0;
        for (int n : new int[] {66, 4}) {
            from.write(fromIo[1], gaussian(r, n * shape.kvDim(), 1.5f), n);
            from.write(fromIo[2], gaussian(r, n * shape.kvDim(), 1.5f), n);
            from.kvStore(src, fromIo[1], fromIo[2], pos, n);
            pos += n;
        }
        KvTransfer.copy(from, src, to, dst, rows);
        assertSameRows(from, src, to, dst, rows);

        double tol = tolerance(kType, vType);
        float[] q = gaussian(r, 4 * shape.qDim(), 1.5f);
        assertAttentionClose(from, fromIo, src, to, toIo, dst, shape, q, rows - 4, 4, tol, "over the moved rows");
        float[] k = gaussian(r, shape.kvDim(), 1.5f);
        float[] v = gaussian(r, shape.kvDim(), 1.5f);
        for (Object[] side : new Object[][] {{from, fromIo, src}, {to, toIo, dst}}) {
            Backend b = (Backend) side[0];
            Activations[] a = (Activations[]) side[1];
            b.write(a[1], k, 1);
            b.write(a[2], v, 1);
            b.kvStore((KvCache) side[2], a[1], a[2], rows, 1);
        }
        assertAttentionClose(from, fromIo, src, to, toIo, dst, shape, gaussian(r, shape.qDim(), 1.5f), rows, 1, tol,
                "of the next token");
    }

    /** q, k, v, out of 66 rows on {@code b}. */
    private Activations[] io(Backend b, AttentionShape shape) {
        return new Activations[] {activations(b, 66, shape.qDim(), null), activations(b, 66, shape.kvDim(), null),
                activations(b, 66, shape.kvDim(), null), activations(b, 66, shape.qDim(), null)};
    }

    private static void assertAttentionClose(Backend a, Activations[] aIo, KvCache aKv, Backend b, Activations[] bIo,
                                             KvCache bKv, AttentionShape shape, float[] q, int startPos, int n, double tol,
                                             String what) {
        a.write(aIo[0], q, n);
        b.write(bIo[0], q, n);
        a.attention(aIo[3], aIo[0], aKv, shape, startPos, n);
        b.attention(bIo[3], bIo[0], bKv, shape, startPos, n);
        float[] expected = read(a, aIo[3], n);
        float[] actual = read(b, bIo[3], n);
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(expected[i] - actual[i]);
            if (!(diff <= tol)) {
                throw new AssertionError("attention " + what + " (" + aKv.keyType() + "/" + aKv.valueType() + "): element "
                        + i + " is " + actual[i] + " on " + b.name() + ", " + expected[i] + " on " + a.name() + "; allowed "
                        + tol);
            }
        }
    }

    /** The moved rows are byte for byte those of the source. */
    private static void assertSameRows(Backend a, KvCache aKv, Backend b, KvCache bKv, int rows) {
        long kBytes = rows * aKv.keyType().bytesFor(aKv.kvDim());
        long vBytes = rows * aKv.valueType().bytesFor(aKv.kvDim());
        MemorySegment[] x = {MemorySegment.ofArray(new byte[(int) kBytes]), MemorySegment.ofArray(new byte[(int) vBytes])};
        MemorySegment[] y = {MemorySegment.ofArray(new byte[(int) kBytes]), MemorySegment.ofArray(new byte[(int) vBytes])};
        a.readKv(aKv, rows, x[0], x[1]);
        b.readKv(bKv, rows, y[0], y[1]);
        assertEquals(-1, x[0].mismatch(y[0]), "K bytes");
        assertEquals(-1, x[1].mismatch(y[1]), "V bytes");
    }

    /** Heap and native segments both ways; rows past {@code rows} are left as they were. */
    @Test
    void heapAndNativeSegmentsRoundTripOnTheDevice() {
        int kvDim = 64, nCtx = 12;
        long kRow = GgmlType.Q4_0.bytesFor(kvDim), vRow = GgmlType.F16.bytesFor(kvDim);
        KvCache kv = own(device.allocateKv(nCtx, kvDim, GgmlType.Q4_0, GgmlType.F16));
        Random r = new Random(3);
        byte[] k = new byte[(int) (nCtx * kRow)];
        byte[] v = new byte[(int) (nCtx * vRow)];
        r.nextBytes(k);
        r.nextBytes(v);
        device.writeKv(kv, nCtx, MemorySegment.ofArray(k).asReadOnly(), MemorySegment.ofArray(v));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kn = arena.allocate(nCtx * kRow);
            MemorySegment vn = arena.allocate(nCtx * vRow);
            device.readKv(kv, nCtx, kn, vn);
            assertEquals(-1, kn.mismatch(MemorySegment.ofArray(k)), "heap in, native out: K");
            assertEquals(-1, vn.mismatch(MemorySegment.ofArray(v)), "heap in, native out: V");
            // 5 new rows from native memory, freed (zeroed here) at once after the call
            byte[] k5 = new byte[(int) (5 * kRow)];
            byte[] v5 = new byte[(int) (5 * vRow)];
            r.nextBytes(k5);
            r.nextBytes(v5);
            MemorySegment k5n = arena.allocate(k5.length).copyFrom(MemorySegment.ofArray(k5));
            MemorySegment v5n = arena.allocate(v5.length).copyFrom(MemorySegment.ofArray(v5));
            device.writeKv(kv, 5, k5n, v5n);
            k5n.fill((byte) 0);
            v5n.fill((byte) 0);
            System.arraycopy(k5, 0, k, 0, k5.length);
            System.arraycopy(v5, 0, v, 0, v5.length);
            byte[] kh = new byte[k.length + 7];   // larger than needed is fine
            byte[] vh = new byte[v.length];
            device.readKv(kv, nCtx, MemorySegment.ofArray(kh), MemorySegment.ofArray(vh));
            assertEquals(-1, MemorySegment.ofArray(k).mismatch(MemorySegment.ofArray(kh).asSlice(0, k.length)),
                    "native in, heap out: K rows 0..4 new, 5.. unchanged");
            assertEquals(-1, MemorySegment.ofArray(v).mismatch(MemorySegment.ofArray(vh)), "V");
        }
        device.readKv(kv, 0, MemorySegment.NULL, MemorySegment.NULL);   // zero rows need no memory
        device.writeKv(kv, 0, MemorySegment.NULL, MemorySegment.NULL);
    }

    @Test
    void badArgumentsAreRejected() {
        int kvDim = 32;
        KvCache d = own(device.allocateKv(4, kvDim, GgmlType.Q8_0, GgmlType.F16));
        KvCache c = own(cpu.allocateKv(8, kvDim, GgmlType.Q8_0, GgmlType.F16));
        KvCache cF32 = own(cpu.allocateKv(4, kvDim, GgmlType.Q8_0, GgmlType.F32));
        MemorySegment k = MemorySegment.ofArray(new byte[(int) (8 * GgmlType.Q8_0.bytesFor(kvDim))]);
        MemorySegment v = MemorySegment.ofArray(new byte[(int) (8 * GgmlType.F16.bytesFor(kvDim))]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> device.readKv(d, 5, k, v));
        assertTrue(e.getMessage().contains("5") && e.getMessage().contains("context"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> device.writeKv(d, 5, k, v));
        assertThrows(IllegalArgumentException.class, () -> device.readKv(d, -1, k, v));
        assertThrows(IllegalArgumentException.class, () -> device.writeKv(d, 4, k.asSlice(0, 10), v));
        assertThrows(IllegalArgumentException.class, () -> device.readKv(d, 4, k, v.asReadOnly()));
        e = assertThrows(IllegalArgumentException.class, () -> device.readKv(c, 1, k, v));
        assertTrue(e.getMessage().contains("does not belong"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> device.writeKv(c, 1, k, v));
        assertThrows(IllegalArgumentException.class, () -> cpu.readKv(d, 1, k, v));

        assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(cpu, c, device, d, 5));   // rows > dst context
        assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(device, d, cpu, c, 5));   // rows > src context
        assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(device, d, cpu, cF32, 1)); // value types differ
        assertThrows(IllegalArgumentException.class, () -> KvTransfer.copy(cpu, d, device, c, 1));   // swapped owners
        KvCache closed = device.allocateKv(4, kvDim, GgmlType.Q8_0, GgmlType.F16);
        closed.close();
        assertThrows(IllegalStateException.class, () -> device.readKv(closed, 1, k, v));
        assertThrows(IllegalStateException.class, () -> KvTransfer.copy(cpu, c, device, closed, 1));
    }

    // ---- scratch reservation -----------------------------------------------------------------------

    /**
     * On a backend of its own: reserveScratch allocates exactly the sizing's scratch (the RoPE table
     * and the one-token attention's partials), rope batches up to the reserved size allocate nothing
     * more (and still match the CPU), a larger reservation grows to its size, a smaller one changes
     * nothing, and the scratch lives until the last handle closes.
     */
    @ParameterizedTest(name = "head_dim {0}, rotated {1}")
    @CsvSource({"64, 64", "64, 32"})
    void reserveScratchAllocatesTheRopeTableUpFront(int headDim, int rot) {
        RopeSpec spec = new RopeSpec(RopeSpec.Style.NEOX, rot, 10000f, 1f, null);
        int heads = 2, n = 16;
        ScratchShape shape = new ScratchShape(n, 1000, rot / 2, heads, headDim, heads * headDim, 1);
        long scratch = DeviceBackend.SIZING.scratchBytes(shape);
        // (n, rot/2, 2) F32 and (heads, 4 splits of 256 keys, head_dim + 2) F32
        assertEquals(8L * n * (rot / 2) + 4L * heads * 4 * (headDim + 2), scratch);
        try (DeviceBackend b = OpenClTestSupport.backend()) {
            Activations x = b.allocateActivations(n, heads * headDim);
            Activations y = b.allocateActivations(1, 4);
            long handles = b.allocatedBytes();
            b.reserveScratch(shape);
            assertEquals(handles + scratch, b.allocatedBytes(), "the reservation");
            assertEquals(scratch, b.scratchBytes());

            Random r = new Random(rot);
            try (Activations xc = cpu.allocateActivations(n, heads * headDim)) {
                int pos = 0;
                for (int tokens : new int[] {n, 5, 1, n}) {
                    float[] data = gaussian(r, tokens * heads * headDim, 1f);
                    b.write(x, data, tokens);
                    cpu.write(xc, data, tokens);
                    b.rope(x, tokens, heads, headDim, pos, spec);
                    cpu.rope(xc, tokens, heads, headDim, pos, spec);
                    assertEquals(handles + scratch, b.allocatedBytes(),
                            "rope of " + tokens + " tokens allocates nothing after the reservation");
                    float[] expected = read(cpu, xc, tokens);
                    float[] actual = read(b, x, tokens);
                    for (int i = 0; i < expected.length; i++) {
                        assertEquals(expected[i], actual[i], 1e-5, "rope element " + i + " of " + tokens + " at " + pos);
                    }
                    pos += tokens;
                }
            }
            b.reserveScratch(new ScratchShape(n / 2, 500, rot / 2, heads, headDim, heads * headDim, 1));   // smaller: nothing changes
            assertEquals(handles + scratch, b.allocatedBytes());
            ScratchShape larger = new ScratchShape(3 * n, 1000, rot / 2, heads, headDim, heads * headDim, 1);
            b.reserveScratch(larger);   // a larger batch: the table grows to exactly the new size
            long largerScratch = DeviceBackend.SIZING.scratchBytes(larger);
            assertTrue(largerScratch > scratch);
            assertEquals(handles + largerScratch, b.allocatedBytes());
            long yBytes = y.allocatedBytes();
            y.close();
            assertEquals(handles - yBytes + largerScratch, b.allocatedBytes(), "the reservation survives while a handle is live");
            x.close();
            assertEquals(0, b.allocatedBytes(), "freed with the last handle");
            assertThrows(IllegalArgumentException.class, () -> new ScratchShape(-1, 1000, rot / 2, heads, headDim, 0, 1));
        }
    }
}
