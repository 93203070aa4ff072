package dev.spillway.engine.memory;

import dev.spillway.api.MemoryLimitException;
import dev.spillway.api.MemoryInfo;
import dev.spillway.api.MemoryWarning;

/**
 * One budget of the {@link MemoryMonitor}: a device's memory or the host's. Every allocation a
 * backend makes is {@link #reserve reserved} here before it happens and {@link #release released}
 * when it is freed, so {@link #usedBytes()} is what the budget's backends hold now.
 *
 * <ul>
 *   <li>An allocation that takes use past {@value #WARN_PERCENT} % of the budget fires one
 *       {@link MemoryWarning} (again only after use fell below that line).</li>
 *   <li>An allocation that would take use past {@value #REFUSE_PERCENT} % is refused before it
 *       happens with a {@link MemoryLimitException}.</li>
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class MemoryAccount {
    public static final int WARN_PERCENT = 85;
    public static final int REFUSE_PERCENT = 95;

    private final String name;
    private final long budget;
    private final MemoryMonitor monitor;   // null: nobody listens
    private long used;                     // guarded by this
    private boolean warned;                // guarded by this; above the warning line since the last warning

    MemoryAccount(String name, long budget, MemoryMonitor monitor) {
        if (budget <= 0) {
            throw new IllegalArgumentException(name + ": a memory budget must be positive, got " + budget);
        }
        this.name = name;
        this.budget = budget;
        this.monitor = monitor;
    }

    /** An account no allocation can exhaust and nobody watches: for backends created without a monitor. */
    public static MemoryAccount unlimited(String name) {
        return new MemoryAccount(name, Long.MAX_VALUE, null);
    }

    public String name() {
        return name;
    }

    public long budgetBytes() {
        return budget;
    }

    /** Use above which allocations are refused: {@value #REFUSE_PERCENT} % of the budget. */
    public long limitBytes() {
        return limitFor(budget);
    }

    /** The refusal line of a budget of {@code budgetBytes}: {@value #REFUSE_PERCENT} % of it. */
    public static long limitFor(long budgetBytes) {
        return fraction(budgetBytes, REFUSE_PERCENT);
    }

    /** Use above which a warning fires: {@value #WARN_PERCENT} % of the budget. */
    public long warningBytes() {
        return fraction(budget, WARN_PERCENT);
    }

    public synchronized long usedBytes() {
        return used;
    }

    /** Bytes that can still be allocated before the refusal line. */
    public synchronized long headroomBytes() {
        return Math.max(0, limitBytes() - used);
    }

    /**
     * Counts {@code bytes} for {@code what} as in use, or refuses.
     *
     * @throws MemoryLimitException if use would pass the refusal line; nothing is counted then
     */
    public void reserve(long bytes, String what) {
        if (bytes < 0) {
            throw new IllegalArgumentException(name + ": cannot reserve " + bytes + " bytes for " + what);
        }
        MemoryWarning warning = null;
        synchronized (this) {
            check(bytes, what);
            used += bytes;
            if (!warned && used > warningBytes()) {
                warned = true;
                warning = new MemoryWarning(name, what, used, budget);
            }
        }
        if (warning != null && monitor != null) {
            monitor.warn(warning);
        }
    }

    /**
     * Refuses, without counting anything, if {@code bytes} more would pass the refusal line: for a
     * caller that checks a whole set of allocations before it makes the first.
     *
     * @throws MemoryLimitException naming {@code what}, the bytes asked, the bytes used and the budget
     */
    public synchronized void check(long bytes, String what) {
        if (bytes > limitBytes() - used) {
            throw new MemoryLimitException(name, what, bytes, used, budget, String.format(
                    "%s: refused %s of %s: %s of the %s budget are in use, and the monitor refuses past %d %% (%s)",
                    name, MemoryInfo.human(bytes), what, MemoryInfo.human(used), MemoryInfo.human(budget),
                    REFUSE_PERCENT, MemoryInfo.human(limitBytes())));
        }
    }

    /** Gives back {@code bytes} an earlier {@link #reserve} counted. */
    public synchronized void release(long bytes) {
        if (bytes < 0 || bytes > used) {
            throw new IllegalStateException(name + ": releasing " + bytes + " bytes, but " + used + " are counted");
        }
        used -= bytes;
        if (used <= warningBytes()) {
            warned = false;
        }
    }

    private static long fraction(long budget, int percent) {
        return budget == Long.MAX_VALUE ? Long.MAX_VALUE : (long) (budget * (percent / 100.0));
    }

    @Override
    public synchronized String toString() {
        return name + ": " + MemoryInfo.human(used) + " of " + (budget == Long.MAX_VALUE ? "unlimited" : MemoryInfo.human(budget));
    }
}
