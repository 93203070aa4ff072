package dev.spillway.engine.model;

import dev.spillway.engine.backend.Backend;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Which backend runs each transformer layer and the output head. Decided before any weight is
 * loaded (today: the last {@code -ngl} layers on the device, the rest on the CPU), and printable as a table.
 *
 * @param layerBackends one backend per layer, index = layer
 * @param outputBackend runs the final norm and the output projection
 */
public record Placement(List<Backend> layerBackends, Backend outputBackend) {

    public Placement {
        layerBackends = List.copyOf(layerBackends);
        Objects.requireNonNull(outputBackend, "outputBackend");
    }

    /** Every layer and the output on one backend. */
    public static Placement allOn(Backend backend, int layerCount) {
        return new Placement(java.util.Collections.nCopies(layerCount, backend), backend);
    }

    public Backend layer(int index) {
        return layerBackends.get(index);
    }

    /** The distinct backends in use, in order of first use. */
    public Set<Backend> backends() {
        Set<Backend> set = new LinkedHashSet<>(layerBackends);
        set.add(outputBackend);
        return set;
    }

    /** Number of layers placed on {@code backend}. */
    public int layersOn(Backend backend) {
        return (int) layerBackends.stream().filter(b -> b == backend).count();
    }

    /**
     * A table of contiguous layer ranges per backend, e.g.
     * <pre>
     * layers   backend
     * 0-13     cpu
     * 14-21    opencl:0
     * output   opencl:0
     * </pre>
     */
    public String table() {
        List<String[]> rows = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= layerBackends.size(); i++) {
            if (i == layerBackends.size() || layerBackends.get(i) != layerBackends.get(start)) {
                String range = start == i - 1 ? Integer.toString(start) : start + "-" + (i - 1);
                rows.add(new String[] {range, layerBackends.get(start).name(), Integer.toString(i - start)});
                start = i;
            }
        }
        rows.add(new String[] {"output", outputBackend.name(), "-"});
        StringBuilder sb = new StringBuilder(String.format("%-8s %-12s %s%n", "layers", "backend", "count"));
        for (String[] r : rows) {
            sb.append(String.format("%-8s %-12s %s%n", r[0], r[1], r[2]));
        }
        return sb.toString();
    }
}
