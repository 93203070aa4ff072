package dev.spillway.bindings.posix;

import dev.spillway.bindings.posix.gen.Posix;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;

/**
 * The one checker of POSIX calls that return {@code 0} on success and set errno on failure.
 *
 * <p>errno must be read right as the call returns (the JVM may itself set it afterwards, e.g. while
 * loading a class), so calls go through a downcall handle made from the generated binding's address
 * and descriptor with {@link Linker.Option#captureCallState}.
 */
final class PosixStatus {
    private static final MemoryLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private PosixStatus() {
    }

    /** A downcall handle for a generated function that captures errno; its first argument is the capture segment. */
    static MethodHandle capturingErrno(MemorySegment address, FunctionDescriptor descriptor) {
        return Linker.nativeLinker().downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"));
    }

    /**
     * Calls {@code handle} (made by {@link #capturingErrno}) and checks its return code.
     *
     * @param what          what was attempted, for the message
     * @param memlockAdvice whether to mention RLIMIT_MEMLOCK (for mlock failures)
     * @return empty on success, else a one-line reason with strerror and errno
     */
    static Optional<String> call(MethodHandle handle, String what, boolean memlockAdvice, Object... args) {
        int rc;
        int errno;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            Object[] all = new Object[args.length + 1];
            all[0] = state;
            System.arraycopy(args, 0, all, 1, args.length);
            rc = (int) handle.invokeWithArguments(all);
            errno = (int) ERRNO.get(state, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException(what + ": native call failed", t);
        }
        if (rc == 0) {
            return Optional.empty();
        }
        MemorySegment text = Posix.strerror(errno).reinterpret(256);
        String reason = what + " failed: " + text.getString(0) + " (errno " + errno + ")";
        if (memlockAdvice) {
            long limit = PageLock.memlockLimit();
            reason += limit < 0 ? "" : "; RLIMIT_MEMLOCK is " + limit + " bytes, raise it with `ulimit -l`";
        }
        return Optional.of(reason);
    }
}
