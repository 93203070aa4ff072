package dev.spillway.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Function;

/** Reading the C strings that native APIs return, by value or through a {@code const char**}. */
public final class CStrings {
    /** Upper bound for a status or device name; native APIs return far shorter strings. */
    private static final long MAX_LENGTH = 4096;

    private CStrings() {
    }

    /** The NUL-terminated string at {@code pointer}, or null if it is NULL. */
    public static String read(MemorySegment pointer) {
        if (pointer == null || pointer.equals(MemorySegment.NULL)) {
            return null;
        }
        return pointer.reinterpret(MAX_LENGTH).getString(0);
    }

    /**
     * Calls {@code call} with a fresh {@code const char**} and reads the string it stored there, or
     * returns null when the call returned non-zero or stored NULL.
     */
    public static String readOut(Function<MemorySegment, Integer> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            out.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
            if (call.apply(out) != 0) {
                return null;
            }
            return read(out.get(ValueLayout.ADDRESS, 0));
        }
    }
}
