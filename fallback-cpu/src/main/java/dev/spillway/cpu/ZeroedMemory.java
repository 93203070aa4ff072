package dev.spillway.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Zero-filled off-heap memory that costs resident pages only where it is written. {@link
 * Arena#allocate} writes zeros over every page it hands out, so a 2,048-token K/V cache is resident
 * in full before the first token; the C library's {@code calloc} takes a large block straight from
 * the kernel, already zero, and leaves the pages untouched until used (as llama.cpp's buffers are).
 * Where {@code calloc} cannot be reached, the arena's own zeroed allocation is used.
 */
final class ZeroedMemory {
    private static final Optional<MethodHandle[]> C = lookup();

    private ZeroedMemory() {
    }

    private static Optional<MethodHandle[]> lookup() {
        try {
            Linker linker = Linker.nativeLinker();
            var calloc = linker.defaultLookup().find("calloc");
            var free = linker.defaultLookup().find("free");
            if (calloc.isEmpty() || free.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(new MethodHandle[] {
                    linker.downcallHandle(calloc.get(), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG)),
                    linker.downcallHandle(free.get(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS))});
        } catch (RuntimeException e) {
            return Optional.empty(); // no native access: the arena's allocation still works
        }
    }

    /** Whether {@link #allocate} uses calloc (else the arena's allocation, which touches every page). */
    static boolean lazy() {
        return C.isPresent();
    }

    /**
     * {@code bytes} of zeros aligned to {@code alignment}, freed when {@code arena} closes.
     *
     * @throws IllegalArgumentException when {@code bytes} is negative or {@code alignment} is not a power of two
     * @throws OutOfMemoryError         when the C library has no memory to give
     */
    static MemorySegment allocate(Arena arena, long bytes, long alignment) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size " + bytes);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        if (C.isEmpty()) {
            return arena.allocate(bytes, alignment);
        }
        long padded = Math.addExact(bytes, alignment - 1);
        MemorySegment raw;
        try {
            raw = (MemorySegment) C.get()[0].invokeExact(1L, padded);
        } catch (Throwable t) {
            throw new IllegalStateException("calloc failed", t);
        }
        if (raw.address() == 0) {
            throw new OutOfMemoryError("calloc could not allocate " + padded + " bytes");
        }
        MethodHandle free = C.get()[1];
        MemorySegment owned = raw.reinterpret(padded, arena, s -> {
            try {
                free.invokeExact(s);
            } catch (Throwable t) {
                throw new IllegalStateException("free failed", t);
            }
        });
        long skip = (alignment - (raw.address() & (alignment - 1))) & (alignment - 1);
        return owned.asSlice(skip, bytes);
    }
}
