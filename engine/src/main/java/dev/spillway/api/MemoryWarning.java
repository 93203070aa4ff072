package dev.spillway.api;

/**
 * An allocation took a budget past its warning line
 * ({@value dev.spillway.engine.memory.MemoryAccount#WARN_PERCENT} % of it). Fired once per crossing:
 * use must fall below the line again before the next warning.
 *
 * @param budget      the budget's name: a device ({@code opencl:0}) or {@code host}
 * @param what        the allocation that crossed the line
 * @param usedBytes   bytes in use after it
 * @param budgetBytes the budget
 */
public record MemoryWarning(String budget, String what, long usedBytes, long budgetBytes) {

    /** Use as a percentage of the budget. */
    public double percent() {
        return 100.0 * usedBytes / budgetBytes;
    }

    /** One line for a log. */
    public String describe() {
        return String.format("%s memory at %.1f %% of its budget (%s of %s) after allocating %s", budget, percent(),
                MemoryInfo.human(usedBytes), MemoryInfo.human(budgetBytes), what);
    }

    /**
     * Receives the monitor's warnings. Called on the allocating thread, after the allocation was
     * counted: that may be a CPU worker in the middle of an op, or a thread holding a backend's lock.
     * Keep it short. It may read memory reports ({@code Model.memoryInfo()} takes no lock), but must
     * not create or close contexts or generate.
     */
    @FunctionalInterface
    public interface Listener {
        void onWarning(MemoryWarning warning);
    }
}
