package dev.spillway.offload.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * {@code nvidia-smi --query-gpu=memory.used,memory.total,utilization.gpu,power.draw
 * --format=csv,noheader,nounits -i ID}: one line per GPU, {@code 1234, 24576, 37, 71.52}, memory in
 * MiB, utilization in %, power in W; a field the GPU cannot report reads {@code [N/A]} or
 * {@code [Not Supported]}. With no GPU it prints {@code No devices were found} (exit 6 or 9).
 */
public final class NvidiaSmi implements MemoryProbe {
    public static final String TOOL = "nvidia-smi";
    private static final long MIB = 1L << 20;

    private final CommandRunner runner;
    private final String id;
    private String reason;

    /**
     * @param runner how to run the tool
     * @param id     the GPU as {@code -i} takes it: an index in nvidia-smi's order, or a PCI bus id
     */
    public NvidiaSmi(CommandRunner runner, String id) {
        this.runner = runner;
        this.id = id;
    }

    public List<String> command() {
        return List.of(TOOL, "--query-gpu=memory.used,memory.total,utilization.gpu,power.draw",
                "--format=csv,noheader,nounits", "-i", id);
    }

    @Override
    public String source() {
        return TOOL + " -i " + id;
    }

    @Override
    public Optional<Reading> read() {
        CommandRunner.Result r = runner.run(command());
        Parsed p = r.ran() ? parse(r.output(), r.exitCode()) : Parsed.error(r.failure());
        reason = p.error();
        return p.readings().isEmpty() ? Optional.empty() : Optional.of(p.readings().getFirst());
    }

    @Override
    public Optional<String> reason() {
        return Optional.ofNullable(reason);
    }

    /**
     * What the output says: a reading per line (one per GPU), or why there is none.
     *
     * @param readings one per GPU, in output order
     * @param error    null with readings; else the tool's complaint or the line that did not parse
     */
    public record Parsed(List<Reading> readings, String error) {
        static Parsed error(String why) {
            return new Parsed(List.of(), why);
        }
    }

    /** Parses the tool's output ({@code exitCode}: its status). Never throws on bad input. */
    public static Parsed parse(String output, int exitCode) {
        List<Reading> readings = new ArrayList<>();
        List<String> lines = output.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        List<String> other = new ArrayList<>();
        for (String line : lines) {
            String[] f = line.split(",", -1);
            if (f.length != 4) {
                other.add(line);   // a warning the tool printed beside its readings (stderr is merged)
                continue;
            }
            double used = number(f[0]);
            double total = number(f[1]);
            if (Double.isNaN(used) || Double.isNaN(total)) {
                return Parsed.error(TOOL + ": memory not readable: " + line);
            }
            readings.add(new Reading((long) (used * MIB), (long) (total * MIB), number(f[2]), number(f[3])));
        }
        if (readings.isEmpty()) {
            return Parsed.error(TOOL + ": " + (lines.isEmpty() ? "no output" : firstLine(other.isEmpty() ? lines : other))
                    + " (exit " + exitCode + ")");
        }
        if (exitCode != 0) {
            return Parsed.error(TOOL + ": exit " + exitCode + ": " + firstLine(lines));
        }
        return new Parsed(List.copyOf(readings), null);
    }

    /** A field's value, NaN for {@code [N/A]}, {@code [Not Supported]}, {@code N/A} and the like. */
    static double number(String field) {
        String v = field.strip().toLowerCase(Locale.ROOT);
        if (v.isEmpty() || v.startsWith("[") || v.startsWith("n/a")) {
            return Double.NaN;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static String firstLine(List<String> lines) {
        return lines.isEmpty() ? "" : lines.getFirst();
    }
}
