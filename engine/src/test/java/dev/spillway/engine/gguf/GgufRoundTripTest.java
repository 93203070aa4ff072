package dev.spillway.engine.gguf;

import static dev.spillway.engine.gguf.GgufSamples.assertMetadataEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GgufRoundTripTest {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private record Expected(String name, GgmlType type, long[] shape, float[] values) {
    }

    @ParameterizedTest(name = "version {0}, alignment {1}")
    @CsvSource({"3, 32", "3, 64", "2, 32", "3, 1", "3, 4096"})
    void everyValueTypeAndTensorShapeRoundTrips(int version, int alignment) throws IOException {
        Map<String, GgufValue> metadata = GgufSamples.everyValueType();
        GgufWriter w = new GgufWriter().version(version).alignment(alignment);
        metadata.forEach(w::put);

        Random rnd = new Random(1);
        List<Expected> expected = new ArrayList<>();
        long[][] shapes = {{7}, {5, 3}, {4, 3, 2}, {2, 3, 2, 2}, {1, 1, 1, 1}};
        for (GgmlType type : List.of(GgmlType.F32, GgmlType.F16)) {
            for (long[] shape : shapes) {
                float[] v = GgufSamples.randomFloats(rnd, (int) TensorView.elementCount(shape));
                Expected e = new Expected(type.name().toLowerCase() + "." + shape.length + "d." + shape[0], type, shape, v);
                w.addTensor(e.name(), type, shape, v);
                expected.add(e);
            }
        }
        byte[] q4 = new byte[(int) GgmlType.Q4_0.bytesFor(64)];
        rnd.nextBytes(q4);
        w.addRawTensor("raw.q4_0", GgmlType.Q4_0, new long[] {32, 2}, MemorySegment.ofArray(q4));

        Path file = dir.resolve("all.gguf");
        w.write(file);

        Map<String, GgufValue> expectedMetadata = new LinkedHashMap<>(metadata);
        if (alignment != 32) {
            expectedMetadata.put("general.alignment", GgufValue.ofUint32(alignment));
        }
        byte[] mappedQ4;
        try (GgufFile f = GgufFile.open(file)) {
            assertTrue(f.memoryMapped());
            assertEquals(version, f.version());
            assertEquals(alignment, f.alignment());
            assertEquals(Files.size(file), f.fileSize());
            assertEquals(0, f.dataOffset() % alignment, "data section aligned");
            assertMetadataEquals(expectedMetadata, f.metadata());
            assertEquals(expected.size() + 1, f.tensors().size());
            for (int i = 0; i < expected.size(); i++) {
                Expected e = expected.get(i);
                GgufTensorInfo info = f.tensors().get(i);
                assertEquals(e.name(), info.name(), "file order");
                assertEquals(0, info.offset() % alignment, e.name() + " offset aligned");
                TensorView view = f.tensor(e.name());
                assertEquals(e.type(), view.type());
                assertArrayEquals(e.shape(), view.shape());
                assertArrayEquals(encoded(e), decode(view), e.name());
                // zero-copy: the view is a slice of the mapping, at the tensor's place in the file
                assertTrue(inFileMapping(view.data(), file), "a slice of the file's mapping");
                assertEquals(f.mapping().address() + f.dataOffset() + info.offset(), view.data().address());
                assertEquals(f.absoluteOffset(info), f.dataOffset() + info.offset());
            }
            mappedQ4 = f.tensor("raw.q4_0").data().toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(q4, mappedQ4);
        }
        // Read into memory instead of mapping: the same metadata, tensors and bytes.
        try (GgufFile mapped = GgufFile.open(file); GgufFile inMemory = GgufFile.open(file, new GgufFile.Options(false))) {
            assertFalse(inMemory.memoryMapped());
            assertEquals(mapped.dataOffset(), inMemory.dataOffset());
            assertMetadataEquals(mapped.metadata(), inMemory.metadata());
            assertEquals(mapped.tensors(), inMemory.tensors());
            for (GgufTensorInfo info : mapped.tensors()) {
                TensorView v = inMemory.view(inMemory.findTensor(info.name()).orElseThrow());
                assertFalse(v.data().isMapped());
                assertEquals(-1, mapped.view(info).data().mismatch(v.data()), info.name());
            }
        }
    }

    /** What the file should hold for {@code e}: its values as F32, or rounded to F16. */
    private static float[] encoded(Expected e) {
        float[] out = e.values().clone();
        if (e.type() == GgmlType.F16) {
            for (int i = 0; i < out.length; i++) {
                out[i] = Float.float16ToFloat(Float.floatToFloat16(out[i]));
            }
        }
        return out;
    }

    private static float[] decode(TensorView v) {
        float[] out = new float[(int) v.elementCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.type() == GgmlType.F32 ? v.data().get(LE_FLOAT, 4L * i)
                    : Float.float16ToFloat(v.data().get(LE_SHORT, 2L * i));
        }
        return out;
    }

    @Test
    void typedGettersConvertAndDefault() throws IOException {
        Path file = dir.resolve("typed.gguf");
        GgufWriter w = new GgufWriter();
        GgufSamples.everyValueType().forEach(w::put);
        w.write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals("llama", f.getString("general.architecture", "?"));
            assertEquals("dflt", f.getString("no.such.key", "dflt"));
            assertEquals(255, f.getInt("t.uint8", 0));
            assertEquals(-128, f.getInt("t.int8", 0));
            assertEquals(0xFFFE, f.getInt("t.uint16", 0));
            assertEquals(0xFFFFFFFFL, f.getLong("t.uint32", 0));
            assertEquals(Integer.MIN_VALUE, f.requireInt("t.int32"));
            assertEquals(Long.MIN_VALUE, f.requireLong("t.int64"));
            assertEquals(-1.5e-5f, f.getFloat("t.float32", 0));
            assertEquals((float) Math.PI, f.requireFloat("t.float64"));
            assertEquals(7f, f.getFloat("no.such.key", 7f));
            assertTrue(f.getBool("t.bool_true", false));
            assertFalse(f.getBool("t.bool_false", true));
            assertEquals(GgufSamples.NON_ASCII, f.requireString("t.string"));
            assertEquals(4, f.findArray("a.string", GgufValueType.STRING).orElseThrow().length());
            assertTrue(f.findArray("no.such.key", GgufValueType.STRING).isEmpty());
            assertTrue(f.find("t.uint64").isPresent());
            assertTrue(f.find("no.such.key").isEmpty());
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.findTensor("x").isEmpty());

            // Wrong types and out-of-range values name the key and point at its value.
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> f.getString("t.uint32", ""));
            assertTrue(e.getMessage().contains("'t.uint32'") && e.getMessage().contains("STRING"), e.getMessage());
            assertTrue(e.offset() > 24 && e.offset() < f.fileSize(), "offset " + e.offset());
            assertEquals(file, e.path());
            e = assertThrows(GgufFormatException.class, () -> f.getInt("t.uint32", 0));
            assertTrue(e.getMessage().contains("'t.uint32'") && e.getMessage().contains("does not fit an int"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.getLong("t.uint64", 0));
            assertTrue(e.getMessage().contains("does not fit a long"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.getFloat("t.string", 0));
            assertTrue(e.getMessage().contains("'t.string'"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.getBool("t.uint8", false));
            assertTrue(e.getMessage().contains("expected BOOL"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.findArray("a.int32", GgufValueType.STRING));
            assertTrue(e.getMessage().contains("expected an array of STRING, found an array of INT32"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.require("llama.block_count"));
            assertTrue(e.getMessage().contains("'llama.block_count'") && e.getMessage().contains("typed.gguf"), e.getMessage());
            assertThrows(GgufFormatException.class, () -> f.requireInt("llama.block_count"));
            IllegalArgumentException absent = assertThrows(IllegalArgumentException.class, () -> f.tensor("output.weight"));
            assertTrue(absent.getMessage().contains("'output.weight'"), absent.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> f.metadata().put("x", GgufValue.ofBool(true)));
            assertThrows(UnsupportedOperationException.class, () -> f.tensors().clear());
        }
    }

    @Test
    void viewsFailCleanlyAfterClose() throws IOException {
        Path file = dir.resolve("close.gguf");
        GgufSamples.smallWriter().write(file);
        for (GgufFile.Options options : List.of(GgufFile.Options.DEFAULT, GgufFile.Options.IN_MEMORY)) {
            GgufFile f = GgufFile.open(file, options);
            TensorView view = f.tensor("a.weight");
            GgufTensorInfo info = f.tensors().getFirst();
            float first = view.data().get(LE_FLOAT, 0);
            assertTrue(Float.isFinite(first));
            f.close();
            f.close(); // idempotent
            assertThrows(IllegalStateException.class, () -> view.data().get(LE_FLOAT, 0));
            assertThrows(IllegalStateException.class, () -> f.tensor("a.weight"));
            assertThrows(IllegalStateException.class, () -> f.view(info));
            assertThrows(IllegalStateException.class, f::mapping);
            assertEquals("llama", f.getString("general.architecture", "?"), "metadata stays readable");
        }
    }

    @Test
    void viewRejectsAnotherFilesInfo() throws IOException {
        Path file = dir.resolve("v.gguf");
        GgufSamples.smallWriter().write(file);
        try (GgufFile f = GgufFile.open(file)) {
            GgufTensorInfo real = f.tensors().getFirst();
            GgufTensorInfo forged = new GgufTensorInfo(real.name(), real.type(), real.shape(), real.offset() + 32, real.byteSize());
            assertThrows(IllegalArgumentException.class, () -> f.view(forged));
            assertEquals(real, f.tensors().getFirst());
        }
    }

    @Test
    void fileWithoutTensorsNeedsNoPadding() throws IOException {
        GgufBytes b = new GgufBytes().header(3, 0, 1).kv("general.architecture", GgufValueType.STRING).str("llama");
        Path file = b.writeTo(dir.resolve("vocab-only.gguf"));
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals("llama", f.requireString("general.architecture"));
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.dataOffset() <= f.fileSize());
        }
    }

    @Test
    void emptyWriterGivesAValidFile() throws IOException {
        Path file = dir.resolve("empty.gguf");
        new GgufWriter().write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(3, f.version());
            assertTrue(f.metadata().isEmpty());
            assertTrue(f.tensors().isEmpty());
            assertEquals(32, f.fileSize(), "24-byte header padded to 32");
        }
    }

    @Test
    void inMemoryReadOfAnEmptyFileFailsCleanly() throws IOException {
        Path file = Files.write(dir.resolve("zero.gguf"), new byte[0]);
        for (GgufFile.Options o : List.of(GgufFile.Options.DEFAULT, GgufFile.Options.IN_MEMORY)) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(file, o));
            assertEquals(0, e.offset());
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void multiGigabyteFileOpensWithoutReadingTensorData() throws IOException {
        // A 4 GiB F32 tensor in a sparse file: opening must not read (or copy) it.
        long cols = 1 << 16;
        long rows = 1 << 14;
        GgufBytes header = new GgufBytes().header(3, 1, 1).kv("general.architecture", GgufValueType.STRING).str("llama")
                .tensor("huge", GgmlType.F32.id(), 0, cols, rows).pad(32);
        Path file = header.writeTo(dir.resolve("huge.gguf"));
        long size = header.pos() + 4 * cols * rows;
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
        long start = System.nanoTime();
        try (GgufFile f = GgufFile.open(file)) {
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 1000, "opening took " + millis + " ms");
            assertEquals(size, f.fileSize());
            TensorView v = f.tensor("huge");
            assertEquals(4 * cols * rows, v.data().byteSize());
            assertEquals(rows, v.rows());
            assertEquals(0f, v.data().get(LE_FLOAT, v.data().byteSize() - 4));
        }
    }

    @Test
    void tensorDataIsNotCopiedIntoTheHeap() throws IOException {
        // A 16 MiB tensor from a RowFiller: opening must not read it (checked: the view is a mapped slice).
        Path file = dir.resolve("big.gguf");
        long rows = 1024;
        new GgufWriter().addTensor("big", GgmlType.F32, new long[] {4096, rows}, (first, n, dst) -> {
            for (int r = 0; r < n; r++) {
                dst[r * 4096] = first + r;
            }
        }).write(file);
        try (GgufFile f = GgufFile.open(file); Arena arena = Arena.ofConfined()) {
            TensorView v = f.tensor("big");
            assertTrue(inFileMapping(v.data(), file), "a slice of the file's mapping, not a copy");
            assertEquals(4096L * rows * 4, v.data().byteSize());
            assertEquals(1023f, v.data().get(LE_FLOAT, 4L * 4096 * 1023));
            assertEquals(f.mapping().address() + f.dataOffset(), v.data().address());
            MemorySegment copy = arena.allocate(16);
            MemorySegment.copy(v.data(), 0, copy, 0, 16);
            assertEquals(0f, copy.get(LE_FLOAT, 0));
        }
    }

    /** Whether {@code data} lies in a mapping of {@code file}, as the kernel lists this process's mappings (Linux). */
    static boolean inFileMapping(MemorySegment data, Path file) throws IOException {
        String name = file.toRealPath().toString();
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/maps"))) {
            // "7f12a0000000-7f12a1000000 r--s 00000000 fd:01 1234   /path/to/file"
            if (line.endsWith(" " + name)) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long end = Long.parseUnsignedLong(range[1], 16);
                if (data.address() >= start && data.address() + data.byteSize() <= end) {
                    return true;
                }
            }
        }
        return false;
    }
}
