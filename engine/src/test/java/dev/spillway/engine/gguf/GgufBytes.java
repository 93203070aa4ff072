package dev.spillway.engine.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A little-endian byte builder for hand-made (and deliberately broken) GGUF files, independent of
 * {@link GgufWriter}. {@link #mark(String)} names the current position so that tests can check
 * the offset an error reports.
 */
final class GgufBytes {
    private ByteBuffer buf = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
    private final Map<String, Integer> marks = new HashMap<>();

    private GgufBytes room(int n) {
        if (buf.remaining() < n) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
            bigger.put(buf.flip());
            buf = bigger;
        }
        return this;
    }

    GgufBytes u8(int v) {
        room(1).buf.put((byte) v);
        return this;
    }

    GgufBytes u32(long v) {
        room(4).buf.putInt((int) v);
        return this;
    }

    GgufBytes u64(long v) {
        room(8).buf.putLong(v);
        return this;
    }

    GgufBytes f32(float v) {
        room(4).buf.putFloat(v);
        return this;
    }

    GgufBytes bytes(byte... b) {
        room(b.length).buf.put(b);
        return this;
    }

    GgufBytes zeros(int n) {
        return bytes(new byte[n]);
    }

    /** gguf_string_t: uint64 length, then the bytes. */
    GgufBytes str(byte[] utf8) {
        return u64(utf8.length).bytes(utf8);
    }

    GgufBytes str(String s) {
        return str(s.getBytes(StandardCharsets.UTF_8));
    }

    /** magic "GGUF", version, tensor_count, metadata_kv_count. */
    GgufBytes header(long version, long tensorCount, long kvCount) {
        return bytes("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(version).u64(tensorCount).u64(kvCount);
    }

    /** A key and a value type; the value follows. */
    GgufBytes kv(String key, GgufValueType type) {
        return str(key).u32(type.id());
    }

    /** A complete tensor info; marks {@code name}, {@code name.type} and {@code name.offset} at those fields. */
    GgufBytes tensor(String name, int ggmlType, long offset, long... dims) {
        mark(name).str(name).u32(dims.length);
        for (long d : dims) {
            u64(d);
        }
        return mark(name + ".type").u32(ggmlType).mark(name + ".offset").u64(offset);
    }

    /** Zeros up to a multiple of {@code alignment}. */
    GgufBytes pad(int alignment) {
        return zeros((alignment - pos() % alignment) % alignment);
    }

    GgufBytes mark(String name) {
        marks.put(name, pos());
        return this;
    }

    int at(String name) {
        Integer p = marks.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no mark " + name);
        }
        return p;
    }

    int pos() {
        return buf.position();
    }

    byte[] toArray() {
        return Arrays.copyOf(buf.array(), buf.position());
    }

    Path writeTo(Path file) throws IOException {
        return Files.write(file, toArray());
    }
}
