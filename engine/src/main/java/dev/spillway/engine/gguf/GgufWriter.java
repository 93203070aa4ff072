package dev.spillway.engine.gguf;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Builds a GGUF v3 (or v2) file: metadata in insertion order, then tensor infos, then tensor data,
 * each tensor at a multiple of the alignment (layout in {@link GgufFormat}).
 *
 * <p>Tensors given as floats are quantized with {@link Quants#quantize} when {@link #write} runs, a
 * few MiB at a time; a {@link RowFiller} supplies rows on demand so that files larger than memory can
 * be written. Float arrays, fillers and raw segments are read at {@link #write} time, not copied
 * when added. A writer may be written more than once. Not thread-safe.
 */
public final class GgufWriter {

    /** Supplies a tensor's rows (of {@code shape[0]} floats each) in order, while the file is written. */
    @FunctionalInterface
    public interface RowFiller {
        /** Fills {@code dst[0 .. rowCount * shape[0])} with rows {@code firstRow .. firstRow + rowCount - 1}. */
        void fill(long firstRow, int rowCount, float[] dst);
    }

    /** Floats quantized per chunk: a multiple of every block size (32 and 256). */
    private static final int CHUNK_ELEMENTS = 1 << 18;
    /** The longest row a RowFiller may supply. */
    private static final long MAX_FILLED_ROW = 1L << 28;

    private sealed interface Source permits Floats, Rows, Raw {
    }

    private record Floats(float[] values) implements Source {
    }

    private record Rows(RowFiller filler) implements Source {
    }

    private record Raw(MemorySegment bytes) implements Source {
    }

    private record Pending(String name, GgmlType type, long[] shape, long elements, long byteSize, Source source) {
    }

    private int version = GgufFormat.DEFAULT_VERSION;
    private int alignment = GgufFormat.DEFAULT_ALIGNMENT;
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();
    private final CharsetEncoder utf8 = StandardCharsets.UTF_8.newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    /** A writer for GGUF version 3 with alignment 32. */
    public GgufWriter() {
    }

    /** The GGUF version to write: 3 (the default) or 2, which has the same layout. */
    public GgufWriter version(int v) {
        if (v != 2 && v != 3) {
            throw new IllegalArgumentException("can write GGUF version 2 or 3, not " + v);
        }
        this.version = v;
        return this;
    }

    /**
     * The alignment of the data section and of every tensor, a power of two. When it is not 32 the
     * file gets a {@code general.alignment} UINT32 (appended after the other metadata unless put earlier).
     */
    public GgufWriter alignment(int a) {
        if (!GgufFormat.isPowerOfTwo(a)) {
            throw new IllegalArgumentException("alignment must be a power of two, not " + a);
        }
        this.alignment = a;
        metadata.computeIfPresent(GgufFormat.ALIGNMENT_KEY, (k, old) -> GgufValue.ofUint32(a));
        return this;
    }

    // ---- metadata ----

    /**
     * Adds a metadata pair; keys keep insertion order. Putting {@code general.alignment} (a UINT32
     * power of two) sets {@link #alignment(int)}.
     *
     * @throws IllegalArgumentException for a duplicate, empty or overlong key, a string that is not
     *                                  valid Unicode, an array with null elements or nested too deep
     */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (metadata.containsKey(key)) {
            throw new IllegalArgumentException("duplicate metadata key '" + key + "'");
        }
        byte[] k = utf8(key, "metadata key");
        if (k.length == 0 || k.length > GgufFormat.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("metadata key must be 1 to " + GgufFormat.MAX_KEY_BYTES + " bytes of UTF-8, not "
                    + k.length);
        }
        checkValue(key, value);
        if (key.equals(GgufFormat.ALIGNMENT_KEY)) {
            if (value.type() != GgufValueType.UINT32) {
                throw new IllegalArgumentException(key + " must be a UINT32, not " + value.type());
            }
            alignment((Integer) value.value());
        }
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String v) {
        return put(key, GgufValue.ofString(v));
    }

    public GgufWriter putUint32(String key, int v) {
        return put(key, GgufValue.ofUint32(v));
    }

    public GgufWriter putInt32(String key, int v) {
        return put(key, GgufValue.ofInt32(v));
    }

    public GgufWriter putFloat32(String key, float v) {
        return put(key, GgufValue.ofFloat32(v));
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, GgufValue.ofBool(v));
    }

    public GgufWriter putUint64(String key, long v) {
        return put(key, GgufValue.ofUint64(v));
    }

    public GgufWriter putArray(String key, GgufArray a) {
        return put(key, GgufValue.ofArray(a));
    }

    /** Strings encodable as UTF-8; arrays without nulls and at most {@link GgufFormat#MAX_ARRAY_DEPTH} deep. */
    private void checkValue(String key, GgufValue value) {
        switch (value.type()) {
            case STRING -> checkString(key, value.asString());
            case ARRAY -> checkArray(key, value.asArray(), 1);
            default -> {
            }
        }
    }

    private void checkArray(String key, GgufArray a, int depth) {
        if (depth > GgufFormat.MAX_ARRAY_DEPTH) {
            throw new IllegalArgumentException("metadata '" + key + "': arrays nested more than "
                    + GgufFormat.MAX_ARRAY_DEPTH + " deep");
        }
        if (a.elementType() == GgufValueType.STRING) {
            for (String s : a.asStrings()) {
                checkString(key, Objects.requireNonNull(s, () -> "metadata '" + key + "': null string in array"));
            }
        } else if (a.elementType() == GgufValueType.ARRAY) {
            for (GgufArray inner : (GgufArray[]) a.values()) {
                checkArray(key, Objects.requireNonNull(inner, () -> "metadata '" + key + "': null in array of arrays"),
                        depth + 1);
            }
        }
    }

    private void checkString(String key, String s) {
        if (utf8(s, "string of metadata '" + key + "'").length > GgufFormat.MAX_STRING_BYTES) {
            throw new IllegalArgumentException("metadata '" + key + "': string longer than " + GgufFormat.MAX_STRING_BYTES
                    + " bytes");
        }
    }

    private byte[] utf8(String s, String what) {
        try {
            ByteBuffer b = utf8.reset().encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " is not valid Unicode (an unpaired surrogate?)", e);
        }
    }

    // ---- tensors ----

    /**
     * Adds a tensor given as floats, quantized to {@code type} when written.
     *
     * @param shape  ggml order, 1 to 4 dimensions each at least 1; {@code shape[0]} a multiple of the type's block
     * @param values {@code product(shape)} floats, row-major with rows of {@code shape[0]}; read at write time
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, float[] values) {
        Objects.requireNonNull(values, "values");
        long elements = checkTensor(name, type, shape);
        if (values.length != elements) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " values given for shape "
                    + Arrays.toString(shape) + ", which has " + elements + " elements");
        }
        return add(name, type, shape, elements, new Floats(values));
    }

    /** Adds a tensor whose rows {@code filler} supplies while the file is written, quantized to {@code type}. */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, RowFiller filler) {
        Objects.requireNonNull(filler, "filler");
        long elements = checkTensor(name, type, shape);
        if (shape[0] > MAX_FILLED_ROW) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + shape[0] + " floats are too long for a RowFiller"
                    + " (at most " + MAX_FILLED_ROW + ")");
        }
        return add(name, type, shape, elements, new Rows(filler));
    }

    /** Adds a tensor already encoded in {@code type}'s format: exactly {@code type.bytesFor(product(shape))} bytes. */
    public GgufWriter addRawTensor(String name, GgmlType type, long[] shape, MemorySegment bytes) {
        Objects.requireNonNull(bytes, "bytes");
        long elements = checkTensor(name, type, shape);
        if (bytes.byteSize() != type.bytesFor(elements)) {
            throw new IllegalArgumentException("tensor '" + name + "': " + bytes.byteSize() + " bytes given, " + type + " "
                    + Arrays.toString(shape) + " takes " + type.bytesFor(elements));
        }
        return add(name, type, shape, elements, new Raw(bytes));
    }

    private GgufWriter add(String name, GgmlType type, long[] shape, long elements, Source source) {
        tensors.add(new Pending(name, type, shape.clone(), elements, type.bytesFor(elements), source));
        tensorNames.add(name);
        return this;
    }

    /** Validates a new tensor; returns its element count. */
    private long checkTensor(String name, GgmlType type, long[] shape) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(shape, "shape");
        int nameBytes = utf8(name, "tensor name").length;
        if (nameBytes == 0 || nameBytes > GgufFormat.MAX_WRITTEN_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' must be 1 to "
                    + GgufFormat.MAX_WRITTEN_TENSOR_NAME_BYTES + " bytes of UTF-8, not " + nameBytes);
        }
        if (tensorNames.contains(name)) {
            throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        }
        if (shape.length < 1 || shape.length > GgufFormat.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "': " + shape.length + " dimensions, must be 1 to "
                    + GgufFormat.MAX_DIMS);
        }
        long elements = 1;
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException("tensor '" + name + "': dimension " + d + " in " + Arrays.toString(shape)
                        + " is not positive");
            }
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("tensor '" + name + "': element count of " + Arrays.toString(shape)
                        + " overflows", e);
            }
        }
        if (shape[0] % type.blockElements() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': row length " + shape[0] + " is not a multiple of "
                    + type + "'s block of " + type.blockElements() + " elements");
        }
        type.bytesFor(elements); // throws if the byte size overflows
        return elements;
    }

    // ---- writing ----

    /**
     * Writes the file: into a temporary file in the same folder, forced to disk, then renamed over
     * {@code path} (atomically where the file system can).
     *
     * @throws IllegalArgumentException if metadata was made invalid after it was put (arrays are mutable)
     */
    public void write(Path path) throws IOException {
        Path target = path.toAbsolutePath();
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            checkValue(e.getKey(), e.getValue());
        }
        Map<String, GgufValue> kvs = new LinkedHashMap<>(metadata);
        if (alignment != GgufFormat.DEFAULT_ALIGNMENT) {
            kvs.putIfAbsent(GgufFormat.ALIGNMENT_KEY, GgufValue.ofUint32(alignment));
        }
        long[] offsets = new long[tensors.size()];
        long end = 0;
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = GgufFormat.alignUp(end, alignment);
            end = offsets[i] + tensors.get(i).byteSize();
        }

        Path tmp = createTemp(target);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE); GgufSink sink = new GgufSink(ch)) {
                writeHeader(sink, kvs, offsets);
                sink.padTo(alignment);
                long dataStart = sink.position();
                for (int i = 0; i < offsets.length; i++) {
                    sink.padTo(alignment);
                    assert sink.position() == dataStart + offsets[i];
                    writeData(sink, tensors.get(i));
                }
                sink.padTo(alignment);
                sink.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** A new empty file beside {@code target} (not Files.createTempFile, whose owner-only permissions would stick). */
    private static Path createTemp(Path target) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = target.resolveSibling("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                    + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) {
                    throw e;
                }
            }
        }
    }

    private void writeHeader(GgufSink sink, Map<String, GgufValue> kvs, long[] offsets) throws IOException {
        sink.putInt(GgufFormat.MAGIC);          // uint32_t magic = "GGUF"
        sink.putInt(version);                   // uint32_t version
        sink.putLong(tensors.size());           // uint64_t tensor_count
        sink.putLong(kvs.size());               // uint64_t metadata_kv_count
        for (Map.Entry<String, GgufValue> e : kvs.entrySet()) {
            putString(sink, e.getKey());        // gguf_string_t key
            sink.putInt(e.getValue().type().id()); // gguf_metadata_value_type value_type
            putValue(sink, e.getValue());       // gguf_metadata_value_t value
        }
        for (int i = 0; i < offsets.length; i++) {
            Pending t = tensors.get(i);
            putString(sink, t.name());          // gguf_string_t name
            sink.putInt(t.shape().length);      // uint32_t n_dimensions
            for (long d : t.shape()) {
                sink.putLong(d);                // uint64_t dimensions[n_dimensions]
            }
            sink.putInt(t.type().id());         // ggml_type type
            sink.putLong(offsets[i]);           // uint64_t offset
        }
    }

    private void putValue(GgufSink sink, GgufValue v) throws IOException {
        Object o = v.value();
        switch (v.type()) {
            case UINT8, INT8 -> sink.putByte((Byte) o);
            case UINT16, INT16 -> sink.slot(2).set(GgufFormat.LE_SHORT, 0, (Short) o);
            case UINT32, INT32 -> sink.putInt((Integer) o);
            case UINT64, INT64 -> sink.putLong((Long) o);
            case FLOAT32 -> sink.slot(4).set(GgufFormat.LE_FLOAT, 0, (Float) o);
            case FLOAT64 -> sink.slot(8).set(GgufFormat.LE_DOUBLE, 0, (Double) o);
            case BOOL -> sink.putByte((byte) ((Boolean) o ? 1 : 0));
            case STRING -> putString(sink, (String) o);
            case ARRAY -> putArray(sink, (GgufArray) o);
        }
    }

    // gguf_metadata_value_type type; uint64_t len; gguf_metadata_value_t array[len]
    private void putArray(GgufSink sink, GgufArray a) throws IOException {
        sink.putInt(a.elementType().id());
        sink.putLong(a.length());
        var layout = GgufFormat.numericLayout(a.elementType());
        if (layout != null) {
            sink.putArray(a.values(), layout, a.length());
            return;
        }
        switch (a.elementType()) {
            case BOOL -> {
                for (boolean b : (boolean[]) a.values()) {
                    sink.putByte((byte) (b ? 1 : 0));
                }
            }
            case STRING -> {
                for (String s : a.asStrings()) {
                    putString(sink, s);
                }
            }
            case ARRAY -> {
                for (GgufArray inner : (GgufArray[]) a.values()) {
                    putArray(sink, inner);
                }
            }
            default -> throw new AssertionError(a.elementType());
        }
    }

    // gguf_string_t: uint64_t len; char string[len]
    private void putString(GgufSink sink, String s) throws IOException {
        byte[] b = utf8(s, "string");
        sink.putLong(b.length);
        sink.write(MemorySegment.ofArray(b));
    }

    private static void writeData(GgufSink sink, Pending t) throws IOException {
        switch (t.source()) {
            case Floats(float[] values) -> quantize(sink, t.type(), values, values.length);
            case Raw(MemorySegment bytes) -> sink.write(bytes);
            case Rows(RowFiller filler) -> {
                int rowLength = (int) t.shape()[0];
                long rows = t.elements() / rowLength;
                int perFill = (int) Math.max(1, Math.min(rows, CHUNK_ELEMENTS / rowLength));
                float[] buf = new float[perFill * rowLength];
                for (long row = 0; row < rows; row += perFill) {
                    int n = (int) Math.min(perFill, rows - row);
                    filler.fill(row, n, buf);
                    quantize(sink, t.type(), buf, n * rowLength);
                }
            }
        }
    }

    /** Quantizes {@code src[0..n)}, a whole number of blocks, into the sink a chunk at a time. */
    private static void quantize(GgufSink sink, GgmlType type, float[] src, int n) throws IOException {
        for (int done = 0; done < n; ) {
            int k = Math.min(CHUNK_ELEMENTS, n - done);
            Quants.quantize(type, src, done, k, sink.slot((int) type.bytesFor(k)), 0);
            done += k;
        }
    }
}
