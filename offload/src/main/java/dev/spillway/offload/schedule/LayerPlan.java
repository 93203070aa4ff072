package dev.spillway.offload.schedule;

import dev.spillway.api.MemoryInfo;
import dev.spillway.engine.model.Workspace;
import java.util.ArrayList;
import java.util.List;

/**
 * Where each layer and the output head run, what that costs on each device and on the host, and
 * why: the planner's answer, decided before anything is allocated. Prints as a table ({@link #table()}).
 *
 * @param request       what was asked: {@code auto}, {@code all} or a layer count
 * @param deviceUnits   layers on devices, the output head counting as one more ({@code 0..layerCount+1})
 * @param layers        one row per layer: its backend, and what it costs there
 * @param output        the output head's row (index -1)
 * @param devices       one per device, in the order layers flow through them
 * @param host          the host's share
 * @param context       the planned context's shape (possibly shrunk by {@code auto})
 * @param parallel      contexts of that shape the plan reserves
 * @param reasons       why, one line per choice
 */
public record LayerPlan(String request, int deviceUnits, List<Layer> layers, Layer output, List<DevicePlan> devices,
                        HostPlan host, Workspace.Shape context, int parallel, List<String> reasons) {

    public LayerPlan {
        layers = List.copyOf(layers);
        devices = List.copyOf(devices);
        reasons = List.copyOf(reasons);
    }

    /**
     * One layer (or the output head).
     *
     * @param index       the layer, -1 for the output head
     * @param backend     {@code cpu} or a device id
     * @param weightBytes what its weights cost on that backend
     * @param kvBytes     what its KV caches cost there (all planned contexts)
     */
    public record Layer(int index, String backend, long weightBytes, long kvBytes) {
    }

    /**
     * One device's share.
     *
     * @param id             the device
     * @param layerCount     layers it runs
     * @param output         whether it runs the output head
     * @param estimate       what it allocates
     * @param runtimeBytes   the API's fixed cost, stated apart (-1: not measured)
     * @param ruleOfThumbBytes offloaded/total x model size + KV size, the usual rough figure, for comparison
     * @param budgetBytes    the monitor's budget
     * @param freeBytes      free memory reported (-1: the API cannot tell)
     * @param marginBytes    what auto leaves free
     * @param availableBytes what the plan may use
     */
    public record DevicePlan(String id, int layerCount, boolean output, Estimate estimate, long runtimeBytes,
                             long ruleOfThumbBytes, long budgetBytes, long freeBytes, long marginBytes, long availableBytes) {
        public long estimatedBytes() {
            return estimate.totalBytes();
        }

        public boolean fits() {
            return estimate.totalBytes() <= availableBytes;
        }
    }

    /**
     * The host's share.
     *
     * @param estimate       weights (0 when mapped), KV caches and activations of its layers, scratch (estimated)
     * @param budgetBytes    the host budget ({@code --max-memory}, else the memory available)
     * @param availableBytes what the plan may use (the monitor's refusal line, less what is in use)
     */
    public record HostPlan(Estimate estimate, long budgetBytes, long availableBytes) {
        public boolean fits() {
            return estimate.totalBytes() <= availableBytes;
        }
    }

    /** Layers on {@code backend}. */
    public int layersOn(String backend) {
        return (int) layers.stream().filter(l -> l.backend().equals(backend)).count();
    }

    /** Whether every device and the host fit. */
    public boolean fits() {
        return host.fits() && devices.stream().allMatch(DevicePlan::fits);
    }

    public int layerCount() {
        return layers.size();
    }

    /** Layers on any device. */
    public int deviceLayers() {
        return layers.size() - layersOn("cpu");
    }

    /**
     * E.g. {@code all 22 layers and the output head on cuda:0}, {@code 15 of 22 layers on cuda:0
     * (layers 7-21); the output head on the cpu}, or {@code all 22 layers on the cpu}.
     */
    public String summary() {
        if (devices.isEmpty() || deviceUnits == 0) {
            return "all " + layers.size() + " layers on the cpu";
        }
        List<String> where = new ArrayList<>();
        for (DevicePlan d : devices) {
            if (d.layerCount() > 0 || d.output()) {
                where.add(devices.size() > 1 ? d.id() + " (" + d.layerCount() + (d.output() ? " + output" : "") + ")" : d.id());
            }
        }
        boolean outputOnDevice = !output.backend().equals("cpu");
        if (deviceLayers() == layers.size()) {
            return "all " + layers.size() + " layers" + (outputOnDevice ? " and the output head" : "") + " on "
                    + String.join(", ", where) + (outputOnDevice ? "" : "; the output head on the cpu");
        }
        int first = layers.size() - deviceLayers();
        return deviceLayers() + " of " + layers.size() + " layers on " + String.join(", ", where)
                + (deviceLayers() > 0 ? " (layers " + first + "-" + (layers.size() - 1) + ")" : "")
                + "; the rest and the output head on the cpu";
    }

    /** The plan as a table: layer ranges per backend, then per device and the host the estimate, free memory, margin and fit. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-9s %-10s %6s %12s %12s%n", "layers", "backend", "count", "weights", "KV cache"));
        int start = 0;
        for (int i = 1; i <= layers.size(); i++) {
            if (i == layers.size() || !layers.get(i).backend().equals(layers.get(start).backend())) {
                long w = 0;
                long kv = 0;
                for (int j = start; j < i; j++) {
                    w += layers.get(j).weightBytes();
                    kv += layers.get(j).kvBytes();
                }
                String range = start == i - 1 ? Integer.toString(start) : start + "-" + (i - 1);
                sb.append(String.format("%-9s %-10s %6d %12s %12s%n", range, layers.get(start).backend(), i - start,
                        MemoryInfo.human(w), MemoryInfo.human(kv)));
                start = i;
            }
        }
        sb.append(String.format("%-9s %-10s %6s %12s %12s%n", "output", output.backend(), "-", MemoryInfo.human(output.weightBytes()), "-"));
        sb.append(String.format("%ncontext %d tokens x %d, batch %d, K %s, V %s%n", context.contextSize(), parallel,
                context.batchSize(), context.keyType(), context.valueType()));
        sb.append(String.format("%n%-10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %s%n", "memory", "weights", "KV cache",
                "activations", "scratch", "estimate", "runtime", "rough", "free", "margin", "available", "fits"));
        for (DevicePlan d : devices) {
            Estimate e = d.estimate();
            sb.append(String.format("%-10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %s%n", d.id(), h(e.weightBytes()),
                    h(e.kvCacheBytes()), h(e.activationBytes()), h(e.scratchBytes()), h(e.totalBytes()),
                    d.runtimeBytes() < 0 ? "n/a" : h(d.runtimeBytes()), h(d.ruleOfThumbBytes()),
                    d.freeBytes() < 0 ? "n/a" : h(d.freeBytes()), h(d.marginBytes()), h(d.availableBytes()), d.fits() ? "yes" : "NO"));
        }
        Estimate e = host.estimate();
        sb.append(String.format("%-10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %s%n", "host", h(e.weightBytes()),
                h(e.kvCacheBytes()), h(e.activationBytes()), h(e.scratchBytes()), h(e.totalBytes()), "-", "-", "-", "-",
                h(host.availableBytes()), host.fits() ? "yes" : "NO"));
        sb.append('\n');
        for (String r : reasons) {
            sb.append("- ").append(r).append('\n');
        }
        return sb.toString();
    }

    private static String h(long bytes) {
        return MemoryInfo.human(bytes);
    }
}
