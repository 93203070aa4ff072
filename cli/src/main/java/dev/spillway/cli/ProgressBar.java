package dev.spillway.cli;

import java.io.PrintWriter;

/** A one-line progress bar on a terminal; does nothing when the output is not a terminal. */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final String label;
    private final boolean enabled;
    private int lastPercent = -1;
    private boolean done;

    private ProgressBar(PrintWriter out, String label, boolean enabled) {
        this.out = out;
        this.label = label;
        this.enabled = enabled;
    }

    /** A bar that draws only when stderr is a terminal. */
    static ProgressBar forTerminal(PrintWriter out, String label) {
        java.io.Console console = System.console();
        return new ProgressBar(out, label, console != null && console.isTerminal());
    }

    void update(long done, long total) {
        if (!enabled || total <= 0 || this.done) {
            return;
        }
        int percent = (int) (100 * done / total);
        if (percent == lastPercent) {
            return;
        }
        lastPercent = percent;
        int filled = percent * WIDTH / 100;
        out.printf("\r%s [%s%s] %3d%% %s / %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled), percent,
                dev.spillway.api.MemoryInfo.human(done), dev.spillway.api.MemoryInfo.human(total));
        out.flush();
    }

    @Override
    public void close() {
        if (enabled && lastPercent >= 0 && !done) {
            out.print("\r\033[K");
            out.flush();
        }
        done = true;
    }
}
