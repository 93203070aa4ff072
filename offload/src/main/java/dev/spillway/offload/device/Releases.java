package dev.spillway.offload.device;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The native resources an owner acquired, released in reverse order. An owner that acquires several
 * handles in its factory adds a release after each acquisition; if a later step fails, the factory
 * calls {@link #closeAfter} so nothing acquired so far leaks, and on success hands this to the owner,
 * whose {@code close()} calls {@link #close()}.
 */
public final class Releases implements AutoCloseable {
    private record Release(String what, Runnable action) {
    }

    private final Deque<Release> stack = new ArrayDeque<>();
    private boolean closed;

    /** Registers the release of something just acquired; {@code what} names it in failures. */
    public void add(String what, Runnable action) {
        if (closed) {
            throw new IllegalStateException("releases already ran; cannot add " + what);
        }
        stack.push(new Release(what, action));
    }

    /** Number of releases still pending. */
    public int pending() {
        return stack.size();
    }

    /**
     * Runs every release, the last added first, each even if an earlier one failed. Throws the first
     * failure (with the others suppressed) after all ran. A second call does nothing.
     */
    @Override
    public void close() {
        RuntimeException first = runAll();
        if (first != null) {
            throw first;
        }
    }

    /** Releases everything after {@code cause} made an acquisition fail; release failures become suppressed exceptions of {@code cause}. */
    public void closeAfter(Throwable cause) {
        RuntimeException failure = runAll();
        if (failure != null) {
            cause.addSuppressed(failure);
            for (Throwable t : failure.getSuppressed()) {
                cause.addSuppressed(t);
            }
        }
    }

    private RuntimeException runAll() {
        closed = true;
        RuntimeException first = null;
        while (!stack.isEmpty()) {
            Release r = stack.pop();
            try {
                r.action().run();
            } catch (RuntimeException e) {
                RuntimeException named = new IllegalStateException("releasing " + r.what() + " failed: " + e.getMessage(), e);
                if (first == null) {
                    first = named;
                } else {
                    first.addSuppressed(named);
                }
            }
        }
        return first;
    }
}
