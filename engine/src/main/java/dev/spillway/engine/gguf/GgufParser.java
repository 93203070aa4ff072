package dev.spillway.engine.gguf;

import static dev.spillway.engine.gguf.GgufFormat.hex;
import static dev.spillway.engine.gguf.GgufFormat.unsigned;

import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses and validates the header, metadata and tensor infos of a GGUF file held in a segment,
 * treating the bytes as hostile: every read is bounds-checked, every declared count or length is
 * checked against the bytes that remain before anything is allocated for it, and every problem is
 * a {@link GgufFormatException} naming the offset. Tensor data is never read.
 */
final class GgufParser {

    /** What a successful parse found. {@code valueOffsets} maps each key to its value_type field's offset. */
    record Result(int version, long alignment, long dataOffset, Map<String, GgufValue> metadata,
                  Map<String, Long> valueOffsets, List<GgufTensorInfo> tensors) {
    }

    /** A tensor info with the file offsets of its start and of its {@code offset} field, for error messages. */
    private record Located(GgufTensorInfo info, long infoPos, long offsetFieldPos) {
    }

    private final MemorySegment seg;
    private final long size;
    private final Path path;
    private final CharsetDecoder strictUtf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private long pos;

    private GgufParser(MemorySegment seg, Path path) {
        this.seg = seg;
        this.size = seg.byteSize();
        this.path = path;
    }

    /**
     * Parses {@code seg} as a GGUF file.
     *
     * @param path only for messages; may be null
     */
    static Result parse(MemorySegment seg, Path path) throws GgufFormatException {
        GgufParser p = new GgufParser(seg, path);
        try {
            return p.parseFile();
        } catch (RuntimeException e) {
            // A safety net: every check above should have caught the problem first. Tests look for this text.
            throw p.error(p.pos, "internal error while parsing: " + e, e);
        }
    }

    private Result parseFile() throws GgufFormatException {
        // uint32_t magic = "GGUF"
        int magic = u32("magic");
        if (magic != GgufFormat.MAGIC) {
            throw error(0, "bad magic " + String.format("%08x", Integer.reverseBytes(magic))
                    + " (expected 47475546, \"GGUF\"): not a GGUF file");
        }
        // uint32_t version
        int version = u32("version");
        checkVersion(version);
        // uint64_t tensor_count; uint64_t metadata_kv_count
        long tensorCount = u64("tensor_count");
        long kvCount = u64("metadata_kv_count");
        long headerEnd = pos;
        checkCount(tensorCount, "tensor_count", GgufFormat.MIN_TENSOR_INFO_BYTES, 8, "tensor infos");
        checkCount(kvCount, "metadata_kv_count", GgufFormat.MIN_KV_BYTES, 16, "metadata pairs");
        if (tensorCount * GgufFormat.MIN_TENSOR_INFO_BYTES + kvCount * GgufFormat.MIN_KV_BYTES > size - headerEnd) {
            throw error(8, "tensor_count " + tensorCount + " and metadata_kv_count " + kvCount + " need at least "
                    + (tensorCount * GgufFormat.MIN_TENSOR_INFO_BYTES + kvCount * GgufFormat.MIN_KV_BYTES)
                    + " bytes, but only " + (size - headerEnd) + " follow the header (truncated or corrupt)");
        }

        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        Map<String, Long> valueOffsets = new HashMap<>();
        for (long i = 0; i < kvCount; i++) {
            // gguf_string_t key
            long keyPos = pos;
            String key = string("metadata key #" + i, GgufFormat.MAX_KEY_BYTES, true);
            if (metadata.containsKey(key)) {
                throw error(keyPos, "duplicate metadata key '" + key + "' (pair #" + i + ")");
            }
            // gguf_metadata_value_type value_type; gguf_metadata_value_t value
            long typePos = pos;
            GgufValueType type = valueType("type of metadata '" + key + "'");
            metadata.put(key, value(type, "metadata '" + key + "'", 0));
            valueOffsets.put(key, typePos);
        }
        long alignment = alignment(metadata, valueOffsets);

        List<Located> tensors = new ArrayList<>((int) Math.min(tensorCount, 1024));
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            Located t = tensorInfo(i, alignment);
            if (!names.add(t.info().name())) {
                throw error(t.infoPos(), "duplicate tensor name '" + t.info().name() + "' (tensor #" + i + ")");
            }
            tensors.add(t);
        }

        // uint8_t _padding[]: the data section starts at the next multiple of the alignment
        long infoEnd = pos;
        long dataOffset = GgufFormat.alignUp(infoEnd, alignment);
        if (tensors.isEmpty()) {
            dataOffset = Math.min(dataOffset, size); // no data: tolerate a file that ends without the padding
        } else if (dataOffset > size) {
            throw error(infoEnd, "tensor data section would start at " + hex(dataOffset) + " (aligned to " + alignment
                    + "), past end of file (size " + hex(size) + ")");
        }
        checkTensorData(tensors, dataOffset);

        List<GgufTensorInfo> infos = tensors.stream().map(Located::info).toList();
        return new Result(version, alignment, dataOffset, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(valueOffsets), infos);
    }

    private void checkVersion(int version) throws GgufFormatException {
        if (version == 2 || version == 3) {
            return;
        }
        String why;
        if (version == 1) {
            why = "GGUF version 1 (32-bit counts and lengths) is not supported; re-convert the model";
        } else if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
            why = "big-endian GGUF files are not supported";
        } else {
            why = "GGUF version " + Integer.toUnsignedString(version) + " is not supported (only 2 and 3)";
        }
        throw error(4, why);
    }

    /** A declared count must fit the bytes after the header, each item taking at least {@code minBytes}. */
    private void checkCount(long count, String what, int minBytes, long fieldPos, String items) throws GgufFormatException {
        long room = (size - 24) / minBytes;
        if (count < 0 || count > room) {
            throw error(fieldPos, what + " " + unsigned(count) + " is impossible: " + items + " take at least " + minBytes
                    + " bytes each and only " + (size - 24) + " bytes follow the header");
        }
    }

    private long alignment(Map<String, GgufValue> metadata, Map<String, Long> valueOffsets) throws GgufFormatException {
        GgufValue v = metadata.get(GgufFormat.ALIGNMENT_KEY);
        if (v == null) {
            return GgufFormat.DEFAULT_ALIGNMENT;
        }
        long at = valueOffsets.get(GgufFormat.ALIGNMENT_KEY);
        if (v.type() != GgufValueType.UINT32) {
            throw error(at, GgufFormat.ALIGNMENT_KEY + " must be a UINT32, found " + v.type());
        }
        long a = v.asLong();
        if (!GgufFormat.isPowerOfTwo(a)) {
            throw error(at, GgufFormat.ALIGNMENT_KEY + " " + a + " is not a nonzero power of two");
        }
        return a;
    }

    private Located tensorInfo(long index, long alignment) throws GgufFormatException {
        // gguf_string_t name
        long infoPos = pos;
        String name = string("name of tensor #" + index, GgufFormat.MAX_TENSOR_NAME_BYTES, true);
        String what = "tensor '" + name + "'";
        // uint32_t n_dimensions
        long nDimsPos = pos;
        int nDims = u32(what + " n_dimensions");
        if (nDims < 1 || nDims > GgufFormat.MAX_DIMS) {
            throw error(nDimsPos, what + ": n_dimensions " + Integer.toUnsignedString(nDims) + " is not in 1.."
                    + GgufFormat.MAX_DIMS);
        }
        // uint64_t dimensions[n_dimensions]
        long[] shape = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            long dimPos = pos;
            shape[d] = u64(what + " dimension " + d);
            if (shape[d] <= 0) {
                throw error(dimPos, what + ": dimension " + d + " is " + unsigned(shape[d]) + " (must be 1 to 2^63-1)");
            }
            try {
                elements = Math.multiplyExact(elements, shape[d]);
            } catch (ArithmeticException e) {
                throw error(dimPos, what + ": element count of shape " + Arrays.toString(Arrays.copyOf(shape, d + 1))
                        + " overflows 64 bits");
            }
        }
        // ggml_type type
        long typePos = pos;
        int typeId = u32(what + " type");
        GgmlType type = GgmlType.byId(Integer.toUnsignedLong(typeId)).orElseThrow(
                () -> error(typePos, what + ": unknown ggml type " + Integer.toUnsignedString(typeId)));
        if (shape[0] % type.blockElements() != 0) {
            throw error(typePos, what + ": row length " + shape[0] + " is not a multiple of " + type
                    + "'s block of " + type.blockElements() + " elements");
        }
        long byteSize;
        try {
            byteSize = type.bytesFor(elements);
        } catch (ArithmeticException e) {
            throw error(typePos, what + ": " + elements + " elements of " + type + " take more than 2^63 bytes");
        }
        // uint64_t offset: relative to the data section, a multiple of the alignment
        long offsetPos = pos;
        long offset = u64(what + " offset");
        if (Long.remainderUnsigned(offset, alignment) != 0) {
            throw error(offsetPos, what + ": data offset " + hex(offset) + " is not a multiple of the alignment "
                    + alignment);
        }
        return new Located(new GgufTensorInfo(name, type, shape, offset, byteSize), infoPos, offsetPos);
    }

    /** Every tensor's data lies within the file, and no two overlap. */
    private void checkTensorData(List<Located> tensors, long dataOffset) throws GgufFormatException {
        long room = size - dataOffset;
        for (Located t : tensors) {
            GgufTensorInfo i = t.info();
            if (i.offset() < 0 || i.offset() > room || i.byteSize() > room - i.offset()) {
                BigInteger start = BigInteger.valueOf(dataOffset).add(new BigInteger(unsigned(i.offset())));
                BigInteger end = start.add(BigInteger.valueOf(i.byteSize()));
                throw error(t.offsetFieldPos(), "tensor '" + i.name() + "' data [0x" + start.toString(16) + ", 0x"
                        + end.toString(16) + ") runs past end of file (size " + hex(size) + ")");
            }
        }
        List<Located> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(t -> t.info().offset()));
        for (int k = 1; k < byOffset.size(); k++) {
            GgufTensorInfo prev = byOffset.get(k - 1).info();
            GgufTensorInfo cur = byOffset.get(k).info();
            if (prev.offset() + prev.byteSize() > cur.offset()) {
                throw error(byOffset.get(k).offsetFieldPos(), "tensor '" + cur.name() + "' data "
                        + range(dataOffset, cur) + " overlaps tensor '" + prev.name() + "' data " + range(dataOffset, prev));
            }
        }
    }

    private static String range(long dataOffset, GgufTensorInfo t) {
        return "[" + hex(dataOffset + t.offset()) + ", " + hex(dataOffset + t.offset() + t.byteSize()) + ")";
    }

    // ---- metadata values ----

    // gguf_metadata_value_type: uint32_t
    private GgufValueType valueType(String what) throws GgufFormatException {
        long at = pos;
        int id = u32(what);
        return GgufValueType.byId(Integer.toUnsignedLong(id))
                .orElseThrow(() -> error(at, what + ": unknown value type " + Integer.toUnsignedString(id)));
    }

    private GgufValue value(GgufValueType type, String what, int depth) throws GgufFormatException {
        Object v = switch (type) {
            case BOOL -> bool(what, -1);
            case STRING -> string(what, -1, GgufFormat.MAX_STRING_BYTES, false);
            case ARRAY -> array(what, depth + 1);
            default -> {
                need(type.fixedSize(), what);
                Object x = switch (type) {
                    case UINT8, INT8 -> seg.get(ValueLayout.JAVA_BYTE, pos);
                    case UINT16, INT16 -> seg.get(GgufFormat.LE_SHORT, pos);
                    case UINT32, INT32 -> seg.get(GgufFormat.LE_INT, pos);
                    case UINT64, INT64 -> seg.get(GgufFormat.LE_LONG, pos);
                    case FLOAT32 -> seg.get(GgufFormat.LE_FLOAT, pos);
                    case FLOAT64 -> seg.get(GgufFormat.LE_DOUBLE, pos);
                    default -> throw new AssertionError(type);
                };
                pos += type.fixedSize();
                yield x;
            }
        };
        return new GgufValue(type, v);
    }

    // bool: one byte, 0 = false, 1 = true
    private boolean bool(String what, long index) throws GgufFormatException {
        need(1, what);
        byte b = seg.get(ValueLayout.JAVA_BYTE, pos);
        if (b != 0 && b != 1) {
            throw error(pos, label(what, index) + ": BOOL must be 0 or 1, found " + (b & 0xFF));
        }
        pos++;
        return b == 1;
    }

    // gguf_metadata_value_type type; uint64_t len; gguf_metadata_value_t array[len]
    private GgufArray array(String what, int depth) throws GgufFormatException {
        if (depth > GgufFormat.MAX_ARRAY_DEPTH) {
            throw error(pos, what + ": arrays nested more than " + GgufFormat.MAX_ARRAY_DEPTH + " deep");
        }
        GgufValueType elementType = valueType(what + " element type");
        long lenPos = pos;
        long n = u64(what + " array length");
        int minSize = elementType.minEncodedSize();
        long left = size - pos;
        if (n < 0 || n > left / minSize) {
            throw error(lenPos, what + ": array of " + unsigned(n) + " " + elementType + " elements (at least " + minSize
                    + " bytes each) runs past end of file (" + left + " bytes left)");
        }
        if (n > GgufFormat.MAX_ARRAY_ELEMENTS) {
            throw error(lenPos, what + ": array of " + n + " elements exceeds the limit of " + GgufFormat.MAX_ARRAY_ELEMENTS);
        }
        int count = (int) n;
        ValueLayout layout = GgufFormat.numericLayout(elementType);
        Object values;
        if (layout != null) {
            values = java.lang.reflect.Array.newInstance(layout.carrier(), count);
            MemorySegment.copy(seg, layout, pos, values, 0, count);
            pos += count * layout.byteSize();
        } else {
            values = switch (elementType) {
                case BOOL -> {
                    boolean[] a = new boolean[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = bool(what, i);
                    }
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = string(what, i, GgufFormat.MAX_STRING_BYTES, false);
                    }
                    yield a;
                }
                case ARRAY -> {
                    GgufArray[] a = new GgufArray[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = array(what + "[" + i + "]", depth + 1);
                    }
                    yield a;
                }
                default -> throw new AssertionError(elementType);
            };
        }
        return new GgufArray(elementType, values);
    }

    private String string(String what, long maxBytes, boolean strict) throws GgufFormatException {
        return string(what, -1, maxBytes, strict);
    }

    /**
     * {@code gguf_string_t}: {@code uint64_t len; char string[len]}, UTF-8 without a terminator.
     * Strict (keys and tensor names) rejects invalid UTF-8; otherwise (values, as llama.cpp which does
     * not check them) malformed sequences become U+FFFD.
     *
     * @param index the element index when the string is an array element, else -1 (labels are built only on error)
     */
    private String string(String what, long index, long maxBytes, boolean strict) throws GgufFormatException {
        long lenPos = pos;
        long len = u64(what, index);
        if (len < 0 || len > size - pos) {
            throw error(lenPos, label(what, index) + ": string length " + unsigned(len) + " runs past end of file ("
                    + (size - pos) + " bytes left)");
        }
        if (len > maxBytes) {
            throw error(lenPos, label(what, index) + ": string length " + len + " exceeds the limit of " + maxBytes
                    + " bytes");
        }
        MemorySegment bytes = seg.asSlice(pos, len);
        String s;
        if (strict) {
            ByteBuffer in = bytes.asByteBuffer();
            try {
                s = strictUtf8.reset().decode(in).toString();
            } catch (CharacterCodingException e) {
                throw error(pos + in.position(), label(what, index) + " is not valid UTF-8");
            }
        } else {
            s = new String(bytes.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
        pos += len;
        return s;
    }

    private static String label(String what, long index) {
        return index < 0 ? what : what + "[" + index + "]";
    }

    // ---- bounds-checked little-endian reads ----

    private void need(long n, String what) throws GgufFormatException {
        need(n, what, -1);
    }

    /** {@code index} as in {@link #label}: the message is built only on failure. */
    private void need(long n, String what, long index) throws GgufFormatException {
        if (n > size - pos) {
            throw error(pos, "truncated: " + label(what, index) + " needs " + n + " bytes, only " + (size - pos) + " left");
        }
    }

    private int u32(String what) throws GgufFormatException {
        need(4, what);
        int v = seg.get(GgufFormat.LE_INT, pos);
        pos += 4;
        return v;
    }

    private long u64(String what) throws GgufFormatException {
        return u64(what, -1);
    }

    private long u64(String what, long index) throws GgufFormatException {
        need(8, what, index);
        long v = seg.get(GgufFormat.LE_LONG, pos);
        pos += 8;
        return v;
    }

    private GgufFormatException error(long at, String detail) {
        return new GgufFormatException(path, at, detail);
    }

    private GgufFormatException error(long at, String detail, Throwable cause) {
        return new GgufFormatException(path, at, detail, cause);
    }
}
