package dev.spillway.engine.util;

import java.util.List;

/** Closing several owned resources so that one failure does not leak the rest. */
public final class Closeables {
    private Closeables() {
    }

    /**
     * Closes {@code resources} last first, each even if an earlier one failed.
     *
     * @param primary the failure that made the caller release (its suppressed list receives close
     *                failures), or null on a normal close
     * @throws RuntimeException on a normal close, the first close failure (others suppressed) after all ran
     */
    public static void closeAllReversed(List<? extends AutoCloseable> resources, Throwable primary) {
        RuntimeException first = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException("close failed: " + e.getMessage(), e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
