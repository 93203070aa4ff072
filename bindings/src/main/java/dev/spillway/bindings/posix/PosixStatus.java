package dev.spillway.bindings.posix;

import dev.spillway.bindings.posix.gen.Posix;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/** The one checker of POSIX return codes: {@code rc != 0} means failure, the reason is in errno. */
final class PosixStatus {
    private PosixStatus() {
    }

    /**
     * @param rc            the call's return code
     * @param what          what was attempted, for the message
     * @param memlockAdvice whether to mention RLIMIT_MEMLOCK (for mlock failures)
     * @return empty on success, else a one-line reason
     */
    static Optional<String> check(int rc, String what, boolean memlockAdvice) {
        if (rc == 0) {
            return Optional.empty();
        }
        int errno = Posix.__errno_location().reinterpret(4).get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
        MemorySegment text = Posix.strerror(errno).reinterpret(256);
        String reason = what + " failed: " + text.getString(0) + " (errno " + errno + ")";
        if (memlockAdvice) {
            long limit = PageLock.memlockLimit();
            reason += limit < 0 ? "" : "; RLIMIT_MEMLOCK is " + limit + " bytes, raise it with `ulimit -l`";
        }
        return Optional.of(reason);
    }
}
