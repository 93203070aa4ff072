package dev.spillway.bindings.posix;

import dev.spillway.bindings.posix.gen.Posix;
import dev.spillway.bindings.posix.gen.rlimit;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Pins memory in RAM with {@code mlock(2)}, best effort. A refusal is not an error for Spillway (the
 * model still runs, it can just be paged out), so {@link #lock} reports it as a reason to print
 * rather than throwing.
 */
public final class PageLock {
    private static final MethodHandle MLOCK = PosixStatus.capturingErrno(Posix.mlock$address(), Posix.mlock$descriptor());
    private static final MethodHandle MUNLOCK =
            PosixStatus.capturingErrno(Posix.munlock$address(), Posix.munlock$descriptor());

    private PageLock() {
    }

    /**
     * Locks {@code segment}'s pages.
     *
     * @return empty when locked; otherwise why not, e.g. "mlock of 1288490188 bytes failed: Cannot
     *         allocate memory (errno 12); RLIMIT_MEMLOCK is 8388608 bytes, raise it with `ulimit -l`"
     */
    public static Optional<String> lock(MemorySegment segment) {
        return PosixStatus.call(MLOCK, "mlock of " + segment.byteSize() + " bytes", true, segment, segment.byteSize());
    }

    /** Unlocks {@code segment}'s pages; returns why not on failure. */
    public static Optional<String> unlock(MemorySegment segment) {
        return PosixStatus.call(MUNLOCK, "munlock of " + segment.byteSize() + " bytes", false, segment, segment.byteSize());
    }

    /** The soft RLIMIT_MEMLOCK in bytes, or -1 if unlimited or unknown. */
    public static long memlockLimit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limit = rlimit.allocate(arena);
            if (Posix.getrlimit(Posix.RLIMIT_MEMLOCK(), limit) != 0) {
                return -1;
            }
            long soft = rlimit.rlim_cur(limit);
            return soft < 0 ? -1 : soft;   // RLIM_INFINITY is all ones
        }
    }
}
