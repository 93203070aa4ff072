package dev.spillway.engine.gguf;

import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * An open GGUF (v2 or v3) file: its metadata, tensor infos, and zero-copy views of its tensor data.
 *
 * <p>{@link #open(Path)} memory-maps the whole file into a segment owned by a shared {@link Arena}
 * of this object, parses and validates the header, metadata and tensor infos (see {@link GgufFormat}
 * for the layout) and never touches tensor bytes, so a multi-gigabyte file opens in milliseconds.
 * A malformed, truncated or hostile file gives a {@link GgufFormatException} naming the byte offset
 * and the problem; a path that is not a regular file (a directory, a FIFO) is refused with a
 * {@link NotAGgufFileException} before it is opened.
 *
 * <p>{@link #tensor(String)} returns slices of the mapping: no data is copied. {@link #close()}
 * closes the arena, which unmaps the file; any view used afterwards throws
 * {@link IllegalStateException}. Instances are immutable and safe to share between threads.
 */
public final class GgufFile implements AutoCloseable {

    /**
     * How to open a file.
     *
     * @param mmap true to memory-map the file; false to read it whole into off-heap memory owned by
     *             the file's arena (for file systems where mapping is unwanted)
     */
    public record Options(boolean mmap) {
        public static final Options DEFAULT = new Options(true);
        public static final Options IN_MEMORY = new Options(false);
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final boolean memoryMapped;
    private final FileChannel channel;   // open while mapped: the tensors' FileRegion reads through it; null otherwise
    private final GgufParser.Result parsed;
    private final Map<String, GgufTensorInfo> byName;

    private GgufFile(Path path, Arena arena, MemorySegment mapping, FileChannel channel, GgufParser.Result parsed) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.memoryMapped = channel != null;
        this.channel = channel;
        this.parsed = parsed;
        this.byName = new HashMap<>();
        for (GgufTensorInfo t : parsed.tensors()) {
            byName.put(t.name(), t);
        }
    }

    /** Opens {@code path} memory-mapped. */
    public static GgufFile open(Path path) throws IOException {
        return open(path, Options.DEFAULT);
    }

    public static GgufFile open(Path path, Options options) throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        requireRegularFile(path);
        Arena arena = Arena.ofShared();
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            long size = ch.size();
            MemorySegment segment;
            if (options.mmap()) {
                // The channel stays open with the mapping: a backend that copies tensors reads them
                // through it (the same file even if the path is renamed or replaced since).
                segment = asPlainNative(ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena), arena);
            } else {
                segment = readAll(ch, size, arena, path);
                ch.close();
                ch = null;
            }
            return new GgufFile(path, arena, segment, ch, GgufParser.parse(segment, path));
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Refuses anything but a regular file (symbolic links are followed) before it is opened: a
     * directory cannot be mapped ("No such device"), and opening a FIFO blocks until a writer comes,
     * so the check must come first.
     *
     * @throws NotAGgufFileException naming the path and what it is instead
     */
    private static void requireRegularFile(Path path) throws IOException {
        BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class);
        if (attrs.isDirectory()) {
            throw new NotAGgufFileException(path, "is a directory, not a GGUF file");
        }
        if (!attrs.isRegularFile()) {
            throw new NotAGgufFileException(path, "is not a regular file (a FIFO, socket or device?), not a GGUF file");
        }
    }

    /** Parses a copy of {@code bytes} as if read from {@code path} with {@link Options#IN_MEMORY} (for tests). */
    static GgufFile ofBytes(Path path, byte[] bytes) throws GgufFormatException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = arena.allocate(bytes.length, 64).copyFrom(MemorySegment.ofArray(bytes)).asReadOnly();
            return new GgufFile(path, arena, segment, null, GgufParser.parse(segment, path));
        } catch (GgufFormatException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The mapped pages as an ordinary native segment of the same arena (zero-copy: the same address
     * and length, read-only). The kernels read weights, KV caches and scratch through the same
     * call sites; when all are native segments of one class the JIT compiles those accesses for one
     * class, while a mapped segment (a subclass) beside native ones made every weight read check its
     * class and measured about a third slower in generation.
     */
    private static MemorySegment asPlainNative(MemorySegment mapped, Arena arena) {
        return MemorySegment.ofAddress(mapped.address()).reinterpret(mapped.byteSize(), arena, null).asReadOnly();
    }

    private static MemorySegment readAll(FileChannel ch, long size, Arena arena, Path path) throws IOException {
        MemorySegment segment = arena.allocate(size, 64);
        long pos = 0;
        while (pos < size) {
            ByteBuffer buf = segment.asSlice(pos, Math.min(size - pos, 1 << 30)).asByteBuffer();
            while (buf.hasRemaining()) {
                if (ch.read(buf, pos + buf.position()) < 0) {
                    throw new GgufFormatException(path, pos + buf.position(), "file ended while being read (it shrank?)");
                }
            }
            pos += buf.capacity();
        }
        return segment.asReadOnly();
    }

    // ---- header ----

    /** The GGUF version: 2 or 3. */
    public int version() {
        return parsed.version();
    }

    /** {@code general.alignment}, or 32 when absent. */
    public long alignment() {
        return parsed.alignment();
    }

    /**
     * File offset of the tensor data section (tensor offsets are relative to it): the end of the
     * tensor infos rounded up to {@link #alignment()}. A file without tensors may end before that
     * padding; its data offset is then the file size.
     */
    public long dataOffset() {
        return parsed.dataOffset();
    }

    public long fileSize() {
        return mapping.byteSize();
    }

    public Path path() {
        return path;
    }

    /** Whether the file is memory-mapped (else it was read into memory). */
    public boolean memoryMapped() {
        return memoryMapped;
    }

    // ---- metadata ----

    /** All metadata, unmodifiable, in file order. */
    public Map<String, GgufValue> metadata() {
        return parsed.metadata();
    }

    public Optional<GgufValue> find(String key) {
        return Optional.ofNullable(parsed.metadata().get(key));
    }

    /** The value of {@code key}; a {@link GgufFormatException} naming the key and the file if it is absent. */
    public GgufValue require(String key) throws GgufFormatException {
        GgufValue v = parsed.metadata().get(key);
        if (v == null) {
            throw new GgufFormatException(path, -1, "required metadata key '" + key + "' is missing");
        }
        return v;
    }

    /** A STRING value, or {@code dflt} when absent. */
    public String getString(String key, String dflt) throws GgufFormatException {
        return typed(key, dflt, GgufValue::asString);
    }

    /** Any integer value (unsigned ones zero-extended; a UINT64 must fit a long), or {@code dflt} when absent. */
    public long getLong(String key, long dflt) throws GgufFormatException {
        return typed(key, dflt, GgufValue::asLong);
    }

    /** Any integer value that fits an int, or {@code dflt} when absent. */
    public int getInt(String key, int dflt) throws GgufFormatException {
        return typed(key, dflt, GgufValue::asInt);
    }

    /** A FLOAT32 or FLOAT64 (or an integer) value, or {@code dflt} when absent. */
    public float getFloat(String key, float dflt) throws GgufFormatException {
        return typed(key, dflt, GgufValue::asFloat);
    }

    /** A BOOL value, or {@code dflt} when absent. */
    public boolean getBool(String key, boolean dflt) throws GgufFormatException {
        return typed(key, dflt, GgufValue::asBool);
    }

    /** As {@link #getString} but the key must be present. */
    public String requireString(String key) throws GgufFormatException {
        return typed(key, null, GgufValue::asString, require(key));
    }

    /** As {@link #getInt} but the key must be present. */
    public int requireInt(String key) throws GgufFormatException {
        return typed(key, null, GgufValue::asInt, require(key));
    }

    /** As {@link #getLong} but the key must be present. */
    public long requireLong(String key) throws GgufFormatException {
        return typed(key, null, GgufValue::asLong, require(key));
    }

    /** As {@link #getFloat} but the key must be present. */
    public float requireFloat(String key) throws GgufFormatException {
        return typed(key, null, GgufValue::asFloat, require(key));
    }

    /**
     * An ARRAY value whose elements are {@code elementType}, or empty when absent; a
     * {@link GgufFormatException} when present with another type.
     */
    public Optional<GgufArray> findArray(String key, GgufValueType elementType) throws GgufFormatException {
        GgufValue v = parsed.metadata().get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v.type() != GgufValueType.ARRAY || v.asArray().elementType() != elementType) {
            String found = v.type() == GgufValueType.ARRAY ? "an array of " + v.asArray().elementType() : v.type().name();
            throw wrongValue(key, "expected an array of " + elementType + ", found " + found);
        }
        return Optional.of(v.asArray());
    }

    private <T> T typed(String key, T dflt, Function<GgufValue, T> convert) throws GgufFormatException {
        return typed(key, dflt, convert, parsed.metadata().get(key));
    }

    private <T> T typed(String key, T dflt, Function<GgufValue, T> convert, GgufValue v) throws GgufFormatException {
        if (v == null) {
            return dflt;
        }
        try {
            return convert.apply(v);
        } catch (IllegalStateException e) {
            throw wrongValue(key, e.getMessage());
        }
    }

    private GgufFormatException wrongValue(String key, String why) {
        return new GgufFormatException(path, parsed.valueOffsets().getOrDefault(key, -1L), "metadata '" + key + "': " + why);
    }

    // ---- tensors ----

    /** All tensor infos, in file order. */
    public List<GgufTensorInfo> tensors() {
        return parsed.tensors();
    }

    public Optional<GgufTensorInfo> findTensor(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * A zero-copy view of the named tensor.
     *
     * @throws IllegalArgumentException if there is no such tensor
     * @throws IllegalStateException    if this file is closed
     */
    public TensorView tensor(String name) {
        GgufTensorInfo info = byName.get(name);
        if (info == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        }
        return view(info);
    }

    /**
     * A zero-copy view of one of this file's tensors.
     *
     * @throws IllegalArgumentException if {@code info} is not one of {@link #tensors()}
     * @throws IllegalStateException    if this file is closed
     */
    public TensorView view(GgufTensorInfo info) {
        if (!info.equals(byName.get(info.name()))) {
            throw new IllegalArgumentException("tensor " + info + " is not one of " + path + "'s");
        }
        return new TensorView(info.name(), info.type(), info.shape(), mapping().asSlice(absoluteOffset(info), info.byteSize()),
                channel != null ? new TensorView.FileRegion(channel, path, absoluteOffset(info)) : null);
    }

    /** The file offset of a tensor's first byte: {@code dataOffset() + info.offset()}. */
    public long absoluteOffset(GgufTensorInfo info) {
        return parsed.dataOffset() + info.offset();
    }

    /**
     * The whole file's read-only segment (for mlock, madvise and the like).
     *
     * @throws IllegalStateException if this file is closed
     */
    public MemorySegment mapping() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(path + " is closed");
        }
        return mapping;
    }

    /** Unmaps (or frees) the file; idempotent. Views taken earlier throw IllegalStateException when used. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(path + ": closing the file", e);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version() + ", " + metadata().size() + " metadata, " + tensors().size()
                + " tensors]";
    }
}
