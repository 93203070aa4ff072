package dev.spillway.offload.device;

import java.util.Arrays;
import java.util.Objects;

/**
 * The arguments of one kernel launch, in parameter order: device buffers and 32/64-bit scalars.
 * Runtimes marshal them (clSetKernelArg, or the {@code void**} array of cuLaunchKernel/hipModuleLaunchKernel).
 *
 * <p>A builder over primitive slots, meant to be reused: {@link #clear()} starts the next launch's
 * list without allocating. Not thread-safe; {@link DeviceBackend} keeps one and fills it under its lock.
 */
public final class KernelArgs {
    /** The most arguments a launch takes (the kernels take at most 17: the tiled matmul). */
    public static final int CAPACITY = 24;

    /** What an argument is: {@code BUFFER} a device pointer, {@code I32} a C {@code int}, {@code I64} {@code spw_i64}, {@code F32} a {@code float}. */
    public enum Kind {
        BUFFER, I32, I64, F32
    }

    private final Kind[] kinds = new Kind[CAPACITY];
    private final long[] values = new long[CAPACITY];              // I32 and I64 values, F32 bits
    private final DeviceBuffer[] buffers = new DeviceBuffer[CAPACITY];
    private int size;

    /** Forgets the arguments added so far. */
    public KernelArgs clear() {
        Arrays.fill(buffers, 0, size, null);
        size = 0;
        return this;
    }

    /** @throws IllegalStateException when {@code b} is closed */
    public KernelArgs buffer(DeviceBuffer b) {
        Objects.requireNonNull(b, "buffer");
        if (b.isClosed()) {
            throw new IllegalStateException("kernel argument " + size + " is a closed buffer");
        }
        buffers[slot(Kind.BUFFER)] = b;
        return this;
    }

    public KernelArgs i32(int v) {
        values[slot(Kind.I32)] = v;
        return this;
    }

    public KernelArgs i64(long v) {
        values[slot(Kind.I64)] = v;
        return this;
    }

    public KernelArgs f32(float v) {
        values[slot(Kind.F32)] = Float.floatToRawIntBits(v);
        return this;
    }

    private int slot(Kind kind) {
        if (size == CAPACITY) {
            throw new IllegalStateException("a launch takes at most " + CAPACITY + " arguments");
        }
        kinds[size] = kind;
        return size++;
    }

    /** How many arguments there are. */
    public int size() {
        return size;
    }

    public Kind kindAt(int i) {
        return kinds[Objects.checkIndex(i, size)];
    }

    /** Argument {@code i}, a {@link Kind#BUFFER}. */
    public DeviceBuffer bufferAt(int i) {
        return buffers[checked(i, Kind.BUFFER)];
    }

    /** Argument {@code i}, an {@link Kind#I32}. */
    public int intAt(int i) {
        return (int) values[checked(i, Kind.I32)];
    }

    /** Argument {@code i}, an {@link Kind#I64}. */
    public long longAt(int i) {
        return values[checked(i, Kind.I64)];
    }

    /** Argument {@code i}, an {@link Kind#F32}. */
    public float floatAt(int i) {
        return Float.intBitsToFloat((int) values[checked(i, Kind.F32)]);
    }

    private int checked(int i, Kind kind) {
        if (kindAt(i) != kind) {
            throw new IllegalArgumentException("kernel argument " + i + " is " + kinds[i] + ", not " + kind);
        }
        return i;
    }
}
