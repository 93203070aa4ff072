package dev.spillway.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;

/**
 * Out-parameters of native calls: allocates the slot in a short-lived arena, lets {@code call}
 * (which checks the status and throws on failure) fill it, and returns the value.
 */
public final class OutParams {
    private OutParams() {
    }

    /** A 32-bit integer out-parameter ({@code int*}, {@code unsigned int*}, {@code CUdevice*}). */
    public static int i32(Consumer<MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slot = arena.allocate(ValueLayout.JAVA_INT);
            call.accept(slot);
            return slot.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** A 64-bit integer out-parameter ({@code size_t*}, {@code uint64_t*}, {@code CUdeviceptr*}). */
    public static long i64(Consumer<MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slot = arena.allocate(ValueLayout.JAVA_LONG);
            call.accept(slot);
            return slot.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** A handle out-parameter ({@code CUcontext*}, {@code hipModule_t*}, {@code void**}); never NULL on success. */
    public static MemorySegment address(Consumer<MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slot = arena.allocate(ValueLayout.ADDRESS);
            slot.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
            call.accept(slot);
            return slot.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** Two 64-bit out-parameters filled by one call, e.g. {@code (size_t* free, size_t* total)}. */
    public static long[] i64Pair(java.util.function.BiConsumer<MemorySegment, MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment first = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment second = arena.allocate(ValueLayout.JAVA_LONG);
            call.accept(first, second);
            return new long[] {first.get(ValueLayout.JAVA_LONG, 0), second.get(ValueLayout.JAVA_LONG, 0)};
        }
    }

    /** A {@code char[capacity]} the call writes a NUL-terminated string into. */
    public static String string(int capacity, Consumer<MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(capacity);
            call.accept(buffer);
            return buffer.getString(0);
        }
    }
}
