package dev.spillway.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class GgufWriterTest {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private static void assertRejects(String fragment, Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(fragment), "expected '" + fragment + "' in: " + x.getMessage());
    }

    @Test
    void rejectsBadMetadata() {
        GgufWriter w = new GgufWriter().putUint32("a.b", 1);
        assertRejects("duplicate metadata key 'a.b'", () -> w.putString("a.b", "x"));
        assertRejects("1 to 65535 bytes", () -> w.putBool("", true));
        assertRejects("1 to 65535 bytes", () -> w.putBool("k".repeat(65536), true));
        assertRejects("not valid Unicode", () -> w.putString("s", "bad \uD800 surrogate"));
        assertRejects("not valid Unicode", () -> w.putBool("bad.\uDC00", true));
        assertRejects("not valid Unicode", () -> w.putArray("arr", new GgufArray(GgufValueType.STRING, new String[] {"ok", "\uD83D"})));
        assertThrows(NullPointerException.class, () -> w.putArray("n", new GgufArray(GgufValueType.STRING, new String[] {null})));
        GgufArray deep = new GgufArray(GgufValueType.UINT8, new byte[] {1});
        for (int i = 1; i < GgufFormat.MAX_ARRAY_DEPTH; i++) {
            deep = new GgufArray(GgufValueType.ARRAY, new GgufArray[] {deep});
        }
        w.putArray("deep.ok", deep);
        GgufArray tooDeep = new GgufArray(GgufValueType.ARRAY, new GgufArray[] {deep});
        assertRejects("nested more than", () -> w.putArray("deep.bad", tooDeep));
        assertRejects("must be a UINT32", () -> w.putInt32("general.alignment", 64));
        assertRejects("power of two", () -> w.putUint32("general.alignment", 48));
        assertRejects("power of two", () -> w.alignment(0));
        assertRejects("power of two", () -> w.alignment(3));
        assertRejects("power of two", () -> w.alignment(-64));
        assertRejects("version 2 or 3", () -> w.version(1));
    }

    @Test
    void rejectsBadTensors() {
        GgufWriter w = new GgufWriter().addTensor("t", GgmlType.F32, new long[] {2}, new float[2]);
        assertRejects("duplicate tensor name 't'", () -> w.addTensor("t", GgmlType.F32, new long[] {2}, new float[2]));
        assertRejects("3 values given for shape [2, 2], which has 4", () -> w.addTensor("u", GgmlType.F32, new long[] {2, 2}, new float[3]));
        assertRejects("0 dimensions", () -> w.addTensor("u", GgmlType.F32, new long[0], new float[1]));
        assertRejects("5 dimensions", () -> w.addTensor("u", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, new float[1]));
        assertRejects("dimension 0 in [2, 0] is not positive", () -> w.addTensor("u", GgmlType.F32, new long[] {2, 0}, new float[0]));
        assertRejects("is not positive", () -> w.addTensor("u", GgmlType.F32, new long[] {-1}, (r, n, d) -> { }));
        assertRejects("overflows", () -> w.addTensor("u", GgmlType.F32, new long[] {1L << 40, 1L << 40}, (r, n, d) -> { }));
        assertRejects("row length 33 is not a multiple of Q4_0's block of 32",
                () -> w.addRawTensor("u", GgmlType.Q4_0, new long[] {33, 2}, MemorySegment.ofArray(new byte[40])));
        assertRejects("row length 16 is not a multiple of Q8_0's block of 32",
                () -> w.addTensor("u", GgmlType.Q8_0, new long[] {16}, new float[16]));
        assertRejects("17 bytes given, Q4_0 [32] takes 18",
                () -> w.addRawTensor("u", GgmlType.Q4_0, new long[] {32}, MemorySegment.ofArray(new byte[17])));
        assertRejects("1 to 63 bytes", () -> w.addTensor("x".repeat(64), GgmlType.F32, new long[] {1}, new float[1]));
        assertRejects("1 to 63 bytes", () -> w.addTensor("", GgmlType.F32, new long[] {1}, new float[1]));
        assertRejects("too long for a RowFiller", () -> w.addTensor("u", GgmlType.F32, new long[] {1L << 29}, (r, n, d) -> { }));
        w.addTensor("x".repeat(63), GgmlType.F32, new long[] {1}, new float[1]); // the longest name llama.cpp reads
    }

    @Test
    void rowFillerIsAskedForEveryRowInOrderInBoundedChunks() throws IOException {
        // 2000 rows of 300: more than one chunk of 2^18 floats, so the filler is called several times.
        int cols = 300;
        int rows = 2000;
        List<long[]> calls = new ArrayList<>();
        GgufWriter.RowFiller filler = (first, n, dst) -> {
            calls.add(new long[] {first, n});
            assertTrue(dst.length >= n * cols);
            for (int r = 0; r < n; r++) {
                for (int c = 0; c < cols; c++) {
                    dst[r * cols + c] = (first + r) * 1000 + c;
                }
            }
        };
        // and one row longer than a chunk: the filler gets it alone
        int longRow = (1 << 18) + 32;
        Path file = dir.resolve("rows.gguf");
        new GgufWriter()
                .addTensor("m", GgmlType.F32, new long[] {cols, rows}, filler)
                .addTensor("h", GgmlType.F16, new long[] {cols, 4}, filler)
                .addTensor("long", GgmlType.F32, new long[] {longRow, 2}, (first, n, dst) -> {
                    assertEquals(1, n);
                    dst[0] = first;
                    dst[longRow - 1] = -first;
                })
                .write(file);
        long next = 0;
        for (long[] call : calls.subList(0, calls.size() - 1)) {
            assertEquals(next, call[0], "rows in order, none skipped");
            assertTrue(call[1] * cols <= 1 << 18, "a chunk is bounded");
            next += call[1];
        }
        assertEquals(rows, next);
        assertTrue(calls.size() > 2);
        try (GgufFile f = GgufFile.open(file)) {
            MemorySegment m = f.tensor("m").data();
            assertEquals(0f, m.get(LE_FLOAT, 0));
            assertEquals(1999 * 1000f + 299, m.get(LE_FLOAT, 4L * (1999 * cols + 299)));
            assertEquals(1234 * 1000f + 5, m.get(LE_FLOAT, 4L * (1234 * cols + 5)));
            MemorySegment h = f.tensor("h").data();
            assertEquals(1000f + 7, Float.float16ToFloat(h.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                    2L * (cols + 7))), "exact in F16");
            MemorySegment l = f.tensor("long").data();
            assertEquals(1f, l.get(LE_FLOAT, 4L * longRow));
            assertEquals(-1f, l.get(LE_FLOAT, 4L * (2L * longRow - 1)));
        }
    }

    @Test
    void layoutIsAlignedAndPacked() throws IOException {
        Path file = dir.resolve("layout.gguf");
        new GgufWriter().alignment(64)
                .addTensor("a", GgmlType.F32, new long[] {3}, new float[] {1, 2, 3})
                .addTensor("b", GgmlType.F16, new long[] {40}, new float[40])
                .addRawTensor("c", GgmlType.Q8_0, new long[] {32}, MemorySegment.ofArray(new byte[34]))
                .write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(64, f.alignment());
            assertEquals(64, f.getInt("general.alignment", 0));
            assertEquals(List.of(0L, 64L, 192L), f.tensors().stream().map(GgufTensorInfo::offset).toList());
            assertEquals(0, f.fileSize() % 64, "file ends padded");
            assertEquals(f.dataOffset() + 192 + 64, f.fileSize());
        }
    }

    @Test
    void alignmentSetThroughMetadataKeepsItsPlace() throws IOException {
        Path file = dir.resolve("a.gguf");
        new GgufWriter().putString("general.architecture", "llama").putUint32("general.alignment", 16).putBool("z", true)
                .alignment(128).write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(List.of("general.architecture", "general.alignment", "z"), List.copyOf(f.metadata().keySet()));
            assertEquals(128, f.alignment());
            assertEquals(128, f.dataOffset());
        }
    }

    @Test
    void writeReplacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("model.gguf");
        new GgufWriter().putString("v", "one").write(file);
        new GgufWriter().putString("v", "two").write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals("two", f.requireString("v"));
        }
        // A failure while writing keeps the old file and removes the temporary one.
        RuntimeException boom = new IllegalStateException("filler failed");
        GgufWriter failing = new GgufWriter().putString("v", "three")
                .addTensor("t", GgmlType.F32, new long[] {4, 4}, (first, n, dst) -> {
                    throw boom;
                });
        assertSame(boom, assertThrows(IllegalStateException.class, () -> failing.write(file)));
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals("two", f.requireString("v"));
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary files left");
        }
    }

    @Test
    void writerCanWriteTwiceAndOutputIsDeterministic() throws IOException {
        GgufWriter w = GgufSamples.smallWriter();
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        w.write(a);
        w.write(b);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    }

    @Test
    void headerBytesFollowTheSpec() throws IOException {
        Path file = dir.resolve("h.gguf");
        new GgufWriter().putUint32("k", 7).addTensor("t", GgmlType.F32, new long[] {2, 1}, new float[] {1.5f, -2f}).write(file);
        // Built independently, byte by byte, from the spec.
        GgufBytes expected = new GgufBytes().header(3, 1, 1).kv("k", GgufValueType.UINT32).u32(7)
                .tensor("t", GgmlType.F32.id(), 0, 2, 1).pad(32).f32(1.5f).f32(-2f).pad(32);
        assertArrayEquals(expected.toArray(), Files.readAllBytes(file));
    }
}
