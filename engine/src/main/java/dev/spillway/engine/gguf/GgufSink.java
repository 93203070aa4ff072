package dev.spillway.engine.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A little-endian output buffer in front of a channel: everything is staged in one off-heap buffer
 * and written in large sequential writes. {@link #close()} frees the buffer without flushing.
 */
final class GgufSink implements AutoCloseable {
    static final int CAPACITY = 4 << 20;

    private final WritableByteChannel channel;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(CAPACITY, 4096);
    private final ByteBuffer bytes = buf.asByteBuffer();
    private int used;
    private long flushed;

    GgufSink(WritableByteChannel channel) {
        this.channel = channel;
    }

    /** Bytes written so far, flushed or not: the file position of the next byte. */
    long position() {
        return flushed + used;
    }

    /** {@code n} (at most {@link #CAPACITY}) bytes of the buffer to fill, counted as written. */
    MemorySegment slot(int n) throws IOException {
        ensure(n);
        MemorySegment s = buf.asSlice(used, n);
        used += n;
        return s;
    }

    void putByte(byte v) throws IOException {
        slot(1).set(ValueLayout.JAVA_BYTE, 0, v);
    }

    void putInt(int v) throws IOException {
        slot(4).set(GgufFormat.LE_INT, 0, v);
    }

    void putLong(long v) throws IOException {
        slot(8).set(GgufFormat.LE_LONG, 0, v);
    }

    /** {@code count} elements of a primitive Java array, each encoded with {@code layout}. */
    void putArray(Object array, ValueLayout layout, int count) throws IOException {
        int per = (int) (CAPACITY / layout.byteSize());
        for (int done = 0; done < count; ) {
            int k = Math.min(per, count - done);
            ensure(k * layout.byteSize());
            MemorySegment.copy(array, done, buf, layout, used, k);
            used += (int) (k * layout.byteSize());
            done += k;
        }
    }

    void write(MemorySegment src) throws IOException {
        for (long done = 0; done < src.byteSize(); ) {
            int k = (int) Math.min(CAPACITY, src.byteSize() - done);
            ensure(k);
            MemorySegment.copy(src, done, buf, used, k);
            used += k;
            done += k;
        }
    }

    /** Zero bytes up to the next multiple of {@code alignment}. */
    void padTo(long alignment) throws IOException {
        long n = GgufFormat.alignUp(position(), alignment) - position();
        while (n > 0) {
            int k = (int) Math.min(CAPACITY, n);
            slot(k).fill((byte) 0);
            n -= k;
        }
    }

    private void ensure(long n) throws IOException {
        assert n <= CAPACITY;
        if (n > CAPACITY - used) {
            flush();
        }
    }

    void flush() throws IOException {
        bytes.clear().limit(used);
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
        flushed += used;
        used = 0;
    }

    @Override
    public void close() {
        arena.close();
    }
}
