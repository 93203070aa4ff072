package dev.spillway.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.cpu.kernel.KvRows;
import dev.spillway.cpu.kernel.MatMat;
import dev.spillway.cpu.kernel.MatVecQ8;
import dev.spillway.cpu.kernel.PackedQ4_0;
import dev.spillway.cpu.kernel.RowGroups;
import dev.spillway.cpu.kernel.ScalarReference;
import dev.spillway.cpu.kernel.TestData;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.Op;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.memory.MemoryMonitor;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class CpuBackendTest {

    private static TensorView matrix(String name, GgmlType type, int rows, int cols, Random r) {
        return new TensorView(name, type, new long[] {cols, rows}, Quants.quantize(type, TestData.gaussian(r, rows * cols, 1f)));
    }

    private static float[] readAll(CpuBackend b, Activations a, int rows) {
        float[] out = new float[rows * a.cols()];
        b.read(a, out, rows);
        return out;
    }

    @Test
    void optionsValidateThreads() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CpuBackend.Options(0));
        assertTrue(e.getMessage().contains("threads"), e.getMessage());
        assertEquals(Runtime.getRuntime().availableProcessors(), CpuBackend.Options.defaults().threads());
    }

    @Test
    void supportsTheDocumentedOpsAndTypes() {
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1))) {
            assertEquals("cpu", b.name());
            for (GgmlType t : GgmlType.values()) {
                assertEquals(t.computable(), b.supports(Op.MATMUL, t), "MATMUL " + t);
                boolean kv = t == GgmlType.F32 || t == GgmlType.F16 || t == GgmlType.BF16 || t == GgmlType.Q8_0 || t == GgmlType.Q4_0;
                assertEquals(kv, b.supports(Op.ATTENTION, t), "ATTENTION " + t);
                assertEquals(kv, b.supports(Op.KV_STORE, t), "KV_STORE " + t);
                for (Op op : new Op[] {Op.RMS_NORM, Op.ROPE, Op.SWIGLU, Op.ADD, Op.COPY_ROWS}) {
                    assertEquals(t == GgmlType.F32, b.supports(op, t), op + " " + t);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"})
    void matmulIsIdenticalWithOneAndThreeThreadsAndMatchesTheReference(GgmlType type) {
        int rows = 150, cols = 512;
        TensorView w = matrix("w", type, rows, cols, new Random(type.id()));
        float[] x = TestData.gaussian(new Random(1), 5 * cols, 1f);
        float[][] results = new float[2][];
        int k = 0;
        for (int threads : new int[] {1, 3}) {
            try (CpuBackend b = new CpuBackend(new CpuBackend.Options(threads).withExact(true));
                 Weight wt = b.loadWeight(w);
                 Activations in = b.allocateActivations(5, cols);
                 Activations out = b.allocateActivations(5, rows)) {
                b.write(in, x, 5);
                b.matmul(out, in, wt, 1);
                float[] one = readAll(b, out, 1);
                b.matmul(out, in, wt, 5);
                float[] five = readAll(b, out, 5);
                results[k++] = concat(one, five);
            }
        }
        assertArrayEquals(results[0], results[1], "bits differ between 1 and 3 threads");

        float[] expected = new float[5 * rows];
        ScalarReference.matMul(type, w.data(), rows, cols, x, 5, expected);
        float[] five = Arrays.copyOfRange(results[0], rows, 6 * rows);
        for (int i = 0; i < five.length; i++) {
            double bound = (cols + 8) * 0x1p-24 * TestData.errorScale(type, w.data(), i % rows, cols, x, i / rows);
            assertEquals(expected[i], five[i], bound, "element " + i);
            if (i < rows) {
                assertEquals(expected[i], results[0][i], bound, "mat-vec element " + i);
            }
        }
    }

    /**
     * matmuls (one input prepared once, one dispatch over every weight's rows) gives the bits of the
     * same matmuls one by one, for one token and a batch, on the integer path (packed), the float path
     * ({@code exact}), a list whose weights take different paths (run one by one), and more weights
     * than one dispatch takes.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void matmulsGiveTheBitsOfMatmulsOneByOne(boolean exact) {
        int cols = 512;
        Random r = new Random(exact ? 3 : 4);
        GgmlType[][] sets = {{GgmlType.Q4_0, GgmlType.Q4_0, GgmlType.Q4_0}, {GgmlType.Q4_K, GgmlType.Q8_0},
                {GgmlType.Q4_0, GgmlType.F16, GgmlType.Q6_K}, {GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0}};
        float[] x = TestData.gaussian(r, 7 * cols, 1f);
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2).withExact(exact));
             Activations in = b.allocateActivations(7, cols)) {
            b.write(in, x, 7);
            for (GgmlType[] set : sets) {
                java.util.List<Weight> ws = new java.util.ArrayList<>();
                java.util.List<Activations> fused = new java.util.ArrayList<>();
                java.util.List<Activations> single = new java.util.ArrayList<>();
                try {
                    for (int k = 0; k < set.length; k++) {
                        int rows = 40 + 24 * k;
                        ws.add(b.loadWeight(matrix("w" + k, set[k], rows, cols, r)));
                        fused.add(b.allocateActivations(7, rows));
                        single.add(b.allocateActivations(7, rows));
                    }
                    for (int n : new int[] {1, 7}) {
                        b.matmuls(fused, in, ws, n);
                        for (int k = 0; k < set.length; k++) {
                            b.matmul(single.get(k), in, ws.get(k), n);
                            assertArrayEquals(readAll(b, single.get(k), n), readAll(b, fused.get(k), n),
                                    Arrays.toString(set) + " weight " + k + ", " + n + " tokens");
                        }
                    }
                } finally {
                    ws.forEach(CpuBackendTest::close);
                    fused.forEach(CpuBackendTest::close);
                    single.forEach(CpuBackendTest::close);
                }
            }
        }
    }

    /**
     * Without {@code exact}, a one-token Q8_0 product takes the integer path: bit for bit what
     * {@link MatVecQ8} gives on the same row, on any thread count; a batch multiplies the same
     * 8-bit-rounded activations in floats, so its first row agrees with the one-token result to
     * float rounding. With {@code exact}, neither rounds.
     */
    @Test
    void oneTokenQ8_0ProductsTakeTheIntegerPathUnlessExact() {
        int rows = 150, cols = 512;
        TensorView w = matrix("w", GgmlType.Q8_0, rows, cols, new Random(8));
        float[] x = TestData.gaussian(new Random(2), 2 * cols, 1f);
        short[] qx = new short[cols];
        float[] dx = new float[cols / 32];
        MatVecQ8.quantize(x, 0, cols, qx, dx);
        float[] integer = new float[rows];
        MatVecQ8.matVec(GgmlType.Q8_0, w.data(), w.rowBytes(), cols, qx, dx, integer, 0, 0, rows);
        for (int threads : new int[] {1, 3}) {
            for (boolean exact : new boolean[] {false, true}) {
                try (CpuBackend b = new CpuBackend(new CpuBackend.Options(threads).withExact(exact));
                     Weight wt = b.loadWeight(w);
                     Activations in = b.allocateActivations(2, cols);
                     Activations out = b.allocateActivations(2, rows)) {
                    b.write(in, x, 2);
                    b.matmul(out, in, wt, 1);
                    float[] one = readAll(b, out, 1);
                    if (exact) {
                        assertFalse(Arrays.equals(integer, one), "--exact keeps the float path");
                    } else {
                        assertArrayEquals(integer, one, "threads=" + threads);
                    }
                    b.matmul(out, in, wt, 2);
                    float[] rows2 = exact ? x : rounded(x, 2, cols);
                    float[] batch = new float[2 * rows];
                    MatMat.matMat(GgmlType.Q8_0, w.data(), w.rowBytes(), cols, MatMat.transposed(rows2, 2, cols), 2, batch, rows, 0, rows, 0,
                            new float[MatMat.scratchFloats(cols)]);
                    float[] got = readAll(b, out, 2);
                    assertArrayEquals(batch, got, exact ? "the activations as they are" : "8-bit-rounded activations");
                    for (int r = 0; r < rows && !exact; r++) {
                        double bound = (cols + 8) * 0x1p-24 * TestData.errorScale(GgmlType.Q8_0, w.data(), r, cols, rows2, 0);
                        assertEquals(integer[r], got[r], 2 * bound, "row " + r + ": batch and one token see the same activations");
                    }
                }
            }
        }
    }

    /**
     * Repacking: a Q4_0 weight with whole row groups becomes a counted copy in {@link PackedQ4_0}'s
     * layout (the sizing says so beforehand, the memory account and allocatedBytes count it, closing
     * frees it); one token gives the packed kernel's result bit for bit on any thread count, and a
     * batch gives each of its tokens' one-token results, bit for bit. Other shapes,
     * {@code exact} and {@code repack=false} keep the zero-copy view.
     */
    @Test
    void packedQ4_0WeightsAreCountedCopiesWithTheIntegerKernel() {
        int rows = 6 * RowGroups.G, cols = 512;
        TensorView w = matrix("w", GgmlType.Q4_0, rows, cols, new Random(12));
        float[] x = TestData.gaussian(new Random(3), 3 * cols, 1f);
        short[] qx = new short[cols];
        float[] dx = new float[cols / 32];
        MatVecQ8.quantize(x, 0, cols, qx, dx);
        int[] pairs = new int[cols / 2];
        int[] sums8 = new int[cols / 32];
        RowGroups.pairs(qx, cols, pairs, sums8, 0);
        float[] integer = new float[rows];
        float[] batch = new float[3 * rows];   // each token on its own through the packed mat-vec
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment packed = arena.allocate(RowGroups.bytes(GgmlType.Q4_0, rows, cols), 64);
            RowGroups.pack(GgmlType.Q4_0, w.data(), 0, cols, packed, 0, rows / RowGroups.G);
            PackedQ4_0.matVec(packed, cols, pairs, sums8, dx, 0, integer, 0, 0, rows);
            for (int t = 0; t < 3; t++) {
                MatVecQ8.quantize(x, t * cols, cols, qx, dx);
                RowGroups.pairs(qx, cols, pairs, sums8, 0);
                PackedQ4_0.matVec(packed, cols, pairs, sums8, dx, 0, batch, t * rows, 0, rows);
            }
        }
        for (int threads : new int[] {1, 3}) {
            MemoryAccount account = MemoryAccount.unlimited("host");
            CpuBackend.Options options = new CpuBackend.Options(threads, account);
            assertEquals(w.data().byteSize(), options.sizing().weightBytes(GgmlType.Q4_0, rows, cols));
            try (CpuBackend b = new CpuBackend(options)) {
                Weight wt = b.loadWeight(w);
                assertEquals(w.data().byteSize(), wt.allocatedBytes(), "the packed copy is the file's size");
                assertEquals(wt.allocatedBytes(), b.allocatedBytes());
                assertEquals(wt.allocatedBytes(), account.usedBytes());
                try (Activations in = b.allocateActivations(3, cols); Activations out = b.allocateActivations(3, rows)) {
                    b.write(in, x, 3);
                    b.matmul(out, in, wt, 1);
                    assertArrayEquals(integer, readAll(b, out, 1), "threads=" + threads);
                    b.matmul(out, in, wt, 3);
                    assertArrayEquals(batch, readAll(b, out, 3), "a batch gives each token's mat-vec bits, threads=" + threads);
                }
                close(wt);
                assertEquals(0, b.allocatedBytes(), "closing the weight frees the copy and the scratch");
                assertEquals(0, account.usedBytes());
            }
        }
        for (CpuBackend.Options zeroCopy : new CpuBackend.Options[] {new CpuBackend.Options(1).withRepack(false),
                new CpuBackend.Options(1).withExact(true)}) {
            assertEquals(0, zeroCopy.sizing().weightBytes(GgmlType.Q4_0, rows, cols));
            try (CpuBackend b = new CpuBackend(zeroCopy); Weight wt = b.loadWeight(w)) {
                assertEquals(0, wt.allocatedBytes(), zeroCopy.toString());
            }
        }
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             Weight odd = b.loadWeight(matrix("odd", GgmlType.Q4_0, rows + 1, cols, new Random(1)))) {
            assertEquals(0, odd.allocatedBytes(), "rows not in whole groups stay a view");
        }
    }

    /**
     * A tensor that says where it lies in a file is packed from the file, in chunks (the view's
     * pages are never read: here the view holds other bytes, so reading it would show); a file that
     * ends early is an error naming the tensor, with nothing left allocated.
     */
    @Test
    void aPackedCopyIsReadFromTheFileWhenTheTensorNamesOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        int rows = 19_200, cols = 512;   // 5.5 MB: two chunks (a multiple of G = 8 or 16)
        TensorView w = matrix("w", GgmlType.Q4_0, rows, cols, new Random(21));
        java.nio.file.Path file = dir.resolve("w.bin");
        byte[] prefix = new byte[100];
        java.nio.file.Files.write(file, prefix);
        java.nio.file.Files.write(file, w.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), java.nio.file.StandardOpenOption.APPEND);
        MemorySegment decoy = Arena.ofAuto().allocate(w.data().byteSize(), 64);   // zeros, not the weights
        float[] x = TestData.gaussian(new Random(3), cols, 1f);
        MemoryAccount account = MemoryAccount.unlimited("host");
        java.nio.file.Path shortFile = dir.resolve("short.bin");
        java.nio.file.Files.write(shortFile, java.util.Arrays.copyOf(java.nio.file.Files.readAllBytes(file), 100 + 3_000_000));
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2, account));
             java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file);
             java.nio.channels.FileChannel shortChannel = java.nio.channels.FileChannel.open(shortFile)) {
            TensorView fromFile = new TensorView("w", GgmlType.Q4_0, w.shape(), decoy, new TensorView.FileRegion(channel, file, prefix.length));
            float[] expected;
            float[] got;
            try (Weight direct = b.loadWeight(w); Weight read = b.loadWeight(fromFile);
                 Activations in = b.allocateActivations(1, cols); Activations out = b.allocateActivations(1, rows)) {
                b.write(in, x, 1);
                b.matmul(out, in, direct, 1);
                expected = readAll(b, out, 1);
                b.matmul(out, in, read, 1);
                got = readAll(b, out, 1);
            }
            assertArrayEquals(expected, got, "packed from the file = packed from the bytes");
            assertEquals(0, account.usedBytes(), "the read buffer and copies are released");

            TensorView truncated = new TensorView("blk.3.ffn_up.weight", GgmlType.Q4_0, w.shape(), decoy,
                    new TensorView.FileRegion(shortChannel, shortFile, prefix.length));
            java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class, () -> b.loadWeight(truncated));
            assertTrue(e.getMessage().contains("blk.3.ffn_up.weight") && e.getMessage().contains("short.bin"), e.getMessage());
            assertEquals(0, account.usedBytes());
            assertEquals(0, b.allocatedBytes());
        }
    }

    @Test
    void aPackedCopyOverTheBudgetIsRefusedAndLeavesNothingBehind() {
        int rows = 4 * RowGroups.G, cols = 256;
        TensorView w = matrix("w", GgmlType.Q4_0, rows, cols, new Random(4));
        MemoryAccount account = new MemoryMonitor().open("host", w.data().byteSize());
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2, account))) {
            BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> b.loadWeight(w));
            assertTrue(e.getMessage().contains("packed weight w"), e.getMessage());
            assertEquals(0, account.usedBytes());
            assertEquals(0, b.allocatedBytes());
        }
    }

    /** Rows of x rounded to 8-bit blocks and back, as the integer path sees them. */
    private static float[] rounded(float[] x, int n, int cols) {
        float[] out = new float[n * cols];
        short[] q = new short[cols];
        float[] d = new float[cols / 32];
        for (int t = 0; t < n; t++) {
            MatVecQ8.quantize(x, t * cols, cols, q, d);
            for (int c = 0; c < cols; c++) {
                out[t * cols + c] = q[c] * d[c / 32];
            }
        }
        return out;
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void allocatedBytesCountsHandlesAndScratchAndReturnsToTheStart() {
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2).withRepack(false))) {
            long start = b.allocatedBytes();
            Weight w = b.loadWeight(matrix("w", GgmlType.Q4_0, 64, 256, new Random(2)));
            assertEquals(0, w.allocatedBytes());
            assertEquals(start, b.allocatedBytes(), "a zero-copy weight costs nothing");
            Activations in = b.allocateActivations(4, 256);
            Activations out = b.allocateActivations(4, 64);
            assertEquals(start + 4L * 4 * 256 + 4L * 4 * 64, b.allocatedBytes());
            KvCache kv = b.allocateKv(32, 64, GgmlType.Q8_0, GgmlType.F16);
            assertEquals(KvCache.bytesFor(32, 64, GgmlType.Q8_0, GgmlType.F16), kv.allocatedBytes());
            long handles = start + in.allocatedBytes() + out.allocatedBytes() + kv.allocatedBytes();
            assertEquals(handles, b.allocatedBytes());

            b.matmul(out, in, w, 4); // grows tile scratch
            Activations q = b.allocateActivations(4, 128);
            Activations att = b.allocateActivations(4, 128);
            Activations kRows = b.allocateActivations(4, 64);
            b.kvStore(kv, kRows, kRows, 0, 4);
            b.attention(att, q, kv, new AttentionShape(4, 2, 32, 0.2f), 0, 4); // grows score scratch
            assertTrue(b.allocatedBytes() > handles + q.allocatedBytes() + att.allocatedBytes() + kRows.allocatedBytes(),
                    "scratch is counted");

            for (AutoCloseable c : new AutoCloseable[] {in, out, kv, q, att, kRows, w}) {
                close(c);
            }
            assertEquals(start, b.allocatedBytes());
            close(in); // closing twice is harmless
            assertEquals(start, b.allocatedBytes());
        }
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void handlesOfAnotherBackendAreRejected() {
        try (CpuBackend a = new CpuBackend(new CpuBackend.Options(1));
             CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             Activations aIn = a.allocateActivations(1, 32);
             Activations bIn = b.allocateActivations(1, 32);
             Activations bOut = b.allocateActivations(1, 8);
             Weight aW = a.loadWeight(matrix("w", GgmlType.F32, 8, 32, new Random(3)));
             Weight bW = b.loadWeight(matrix("v", GgmlType.F32, 8, 32, new Random(4)));
             KvCache aKv = a.allocateKv(4, 32, GgmlType.F32, GgmlType.F32)) {
            assertThrows(IllegalArgumentException.class, () -> b.matmul(bOut, aIn, bW, 1));
            assertThrows(IllegalArgumentException.class, () -> b.matmul(bOut, bIn, aW, 1));
            assertThrows(IllegalArgumentException.class, () -> b.kvStore(aKv, bIn, bIn, 0, 1));
            assertThrows(IllegalArgumentException.class, () -> b.write(aIn, new float[32], 1));
            Activations foreign = new Activations() {
                public int rows() { return 1; }
                public int cols() { return 32; }
                public long allocatedBytes() { return 0; }
                public void close() { }
            };
            assertThrows(IllegalArgumentException.class, () -> b.add(bIn, foreign, 1));
        }
    }

    @Test
    void closedHandlesAndAClosedBackendAreRejected() {
        CpuBackend b = new CpuBackend(new CpuBackend.Options(2));
        Activations x = b.allocateActivations(2, 32);
        Activations y = b.allocateActivations(2, 32);
        Activations out = b.allocateActivations(2, 8);
        Weight w = b.loadWeight(matrix("w", GgmlType.Q8_0, 8, 32, new Random(5)));
        KvCache kv = b.allocateKv(4, 32, GgmlType.Q4_0, GgmlType.Q4_0);
        y.close();
        assertThrows(IllegalStateException.class, () -> b.add(x, y, 1));
        assertThrows(IllegalStateException.class, () -> b.read(y, new float[64], 1));
        w.close();
        assertThrows(IllegalStateException.class, () -> b.matmul(out, x, w, 1));
        kv.close();
        assertThrows(IllegalStateException.class, () -> b.kvStore(kv, x, x, 0, 1));
        b.close();
        assertThrows(IllegalStateException.class, () -> b.add(x, x, 1));
        assertThrows(IllegalStateException.class, () -> b.allocateActivations(1, 1));
        x.close(); // releasing after the backend closed still works
        out.close();
        assertEquals(0, b.allocatedBytes());
    }

    @Test
    void kvCacheGeometryIsValidated() {
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.allocateKv(16, 48, GgmlType.F16, GgmlType.Q8_0));
            assertTrue(e.getMessage().contains("48") && e.getMessage().contains("Q8_0") && e.getMessage().contains("32"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> b.allocateKv(16, 64, GgmlType.Q4_K, GgmlType.F16));
            assertThrows(IllegalArgumentException.class, () -> b.allocateKv(0, 64, GgmlType.F16, GgmlType.F16));
            try (KvCache kv = b.allocateKv(16, 48, GgmlType.F16, GgmlType.BF16)) { // plain types: any kvDim
                assertEquals(48, kv.kvDim());
                assertEquals(GgmlType.BF16, kv.valueType());
            }
        }
    }

    @Test
    void shapesAndRangesAreValidated() {
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             Activations in = b.allocateActivations(2, 32);
             Activations out = b.allocateActivations(2, 16);
             Weight w = b.loadWeight(matrix("w", GgmlType.F32, 8, 32, new Random(6)));
             KvCache kv = b.allocateKv(4, 32, GgmlType.F32, GgmlType.F32)) {
            assertThrows(IllegalArgumentException.class, () -> b.matmul(out, in, w, 1));  // out has 16 cols, w 8 rows
            assertThrows(IllegalArgumentException.class, () -> b.matmul(in, in, w, 1));
            assertThrows(IllegalArgumentException.class, () -> b.add(in, in, 3));        // 3 > 2 rows
            assertThrows(IllegalArgumentException.class, () -> b.kvStore(kv, in, in, 3, 2)); // past the context
            assertThrows(IllegalArgumentException.class, () -> b.copyRows(in, 1, in, 0, 2));
            assertThrows(IllegalArgumentException.class, () -> b.allocateActivations(0, 4));
            assertThrows(IllegalArgumentException.class, () -> b.rope(in, 1, 4, 8, 0,
                    new RopeSpec(RopeSpec.Style.NEOX, 16, 10000f, 1f, null)));               // rotates 16 of 8
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void kvStoreThenAttentionInTwoBatchesMatchesTheDefinition(GgmlType type) {
        AttentionShape shape = new AttentionShape(8, 4, 8, 0.35f);
        int kvDim = shape.kvDim(), ctx = 16;
        Random r = new Random(type.id() + 100);
        float[] k = TestData.gaussian(r, 9 * kvDim, 1f);
        float[] v = TestData.gaussian(r, 9 * kvDim, 1f);
        float[] q = TestData.gaussian(r, 3 * shape.qDim(), 1f);
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(3));
             KvCache kv = b.allocateKv(ctx, kvDim, type, type);
             Activations ka = b.allocateActivations(6, kvDim);
             Activations va = b.allocateActivations(6, kvDim);
             Activations qa = b.allocateActivations(3, shape.qDim());
             Activations out = b.allocateActivations(3, shape.qDim())) {
            b.write(ka, k, 6);
            b.write(va, v, 6);
            b.kvStore(kv, ka, va, 0, 6);
            b.write(ka, Arrays.copyOfRange(k, 6 * kvDim, 9 * kvDim), 3);
            b.write(va, Arrays.copyOfRange(v, 6 * kvDim, 9 * kvDim), 3);
            b.kvStore(kv, ka, va, 6, 3);
            b.write(qa, q, 3);
            b.attention(out, qa, kv, shape, 6, 3);
            float[] actual = readAll(b, out, 3);

            float[] expected = new float[3 * shape.qDim()];
            ScalarReference.attention(expected, q, new KvRows(type, Quants.quantize(type, k), kvDim),
                    new KvRows(type, Quants.quantize(type, v), kvDim), shape, 6, 3);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-4 * 5, "element " + i); // |v| < 5: see AttentionTest
            }
        }
    }

    @Test
    void rowOpsThroughTheBackendMatchTheReferences() {
        int n = 3, heads = 4, headDim = 16, dim = heads * headDim;
        Random r = new Random(8);
        float[] x = TestData.gaussian(r, n * dim, 1f);
        float[] y = TestData.gaussian(r, n * dim, 1f);
        float[] gamma = TestData.gaussian(r, dim, 1f);
        RopeSpec spec = new RopeSpec(RopeSpec.Style.INTERLEAVED, headDim, 10000f, 1f, null);
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2));
             Weight g = b.loadWeight(new TensorView("norm", GgmlType.F32, new long[] {dim}, TestData.f32(gamma)));
             Activations xa = b.allocateActivations(n, dim);
             Activations ya = b.allocateActivations(n, dim);
             Activations big = b.allocateActivations(n + 2, dim)) {
            b.write(xa, x, n);
            b.write(ya, y, n);
            b.rmsNorm(ya, xa, g, n, 1e-6f);
            float[] norm = new float[n * dim];
            ScalarReference.rmsNorm(norm, x, gamma, n, dim, 1e-6f);
            assertArrayEquals(norm, readAll(b, ya, n), 1e-5f);

            b.rope(xa, n, heads, headDim, 5, spec);
            float[] roped = x.clone();
            ScalarReference.rope(roped, n, heads, headDim, 5, spec);
            assertArrayEquals(roped, readAll(b, xa, n), 1e-5f);

            b.write(xa, x, n);
            b.write(ya, y, n);
            b.swiglu(xa, ya, n);
            float[] act = x.clone();
            ScalarReference.swiglu(act, y, n * dim);
            assertArrayEquals(act, readAll(b, xa, n), 1e-5f);

            b.add(xa, ya, n);
            ScalarReference.add(act, y, n * dim);
            assertArrayEquals(act, readAll(b, xa, n), 1e-5f);

            b.copyRows(big, 2, xa, 1, 2);
            float[] copied = readAll(b, big, n + 2);
            assertArrayEquals(Arrays.copyOfRange(readAll(b, xa, n), dim, 3 * dim), Arrays.copyOfRange(copied, 2 * dim, 4 * dim));
            assertFalse(copied[0] != 0, "rows outside the copy are untouched");
        }
    }

    @Test
    void opsFromSeveralThreadsAreSerialized() throws Exception {
        int rows = 96, cols = 256;
        TensorView w = matrix("w", GgmlType.Q4_K, rows, cols, new Random(9));
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(2)); Weight wt = b.loadWeight(w)) {
            ExecutorService callers = Executors.newFixedThreadPool(3);
            try {
                Future<?>[] f = new Future<?>[3];
                for (int c = 0; c < 3; c++) {
                    int seed = c;
                    f[c] = callers.submit(() -> {
                        float[] x = TestData.gaussian(new Random(seed), 2 * cols, 1f);
                        float[] expected = null;
                        try (Activations in = b.allocateActivations(2, cols); Activations out = b.allocateActivations(2, rows)) {
                            for (int it = 0; it < 30; it++) {
                                b.write(in, x, 2);
                                b.matmul(out, in, wt, 1 + it % 2);
                                float[] got = readAll(b, out, 1);
                                if (expected == null) {
                                    expected = got;
                                }
                                if (it % 2 == 0) {
                                    assertArrayEquals(expected, got, "context " + seed + " iteration " + it);
                                }
                            }
                        }
                        return null;
                    });
                }
                for (Future<?> fu : f) {
                    fu.get();
                }
            } finally {
                callers.shutdownNow();
            }
        }
    }

    @Test
    void aOneDimensionalWeightIsOneRow() {
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             Weight g = b.loadWeight(new TensorView("g", GgmlType.F32, new long[] {12}, TestData.f32(new float[12])))) {
            assertEquals(1, g.rows());
            assertEquals(12, g.cols());
            assertEquals(GgmlType.F32, g.type());
            assertEquals("g", g.name());
        }
    }

    @Test
    void nothingIsCopiedWhenAWeightIsLoaded() {
        MemorySegment data = Quants.quantize(GgmlType.F32, new float[] {1, 2, 3, 4});
        try (CpuBackend b = new CpuBackend(new CpuBackend.Options(1));
             Weight w = b.loadWeight(new TensorView("w", GgmlType.F32, new long[] {2, 2}, data));
             Activations in = b.allocateActivations(1, 2);
             Activations out = b.allocateActivations(1, 2)) {
            b.write(in, new float[] {1, 1}, 1);
            data.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, 10f); // the backend sees later writes to the tensor's memory
            b.matmul(out, in, w, 1);
            assertArrayEquals(new float[] {12, 7}, readAll(b, out, 1));
        }
    }
}
