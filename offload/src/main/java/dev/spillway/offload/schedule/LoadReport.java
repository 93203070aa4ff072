package dev.spillway.offload.schedule;

import dev.spillway.api.MemoryInfo;
import java.util.List;
import java.util.Map;

/**
 * How a model came to be loaded: every attempt that ran out of device memory, the plan that loaded,
 * and the bytes each device really allocated for it (weights and the planned contexts) beside the
 * estimate.
 *
 * @param failed   the attempts that failed, in order
 * @param loaded   the plan that loaded
 * @param measured per device, the bytes its backend had allocated with the planned contexts in place
 */
public record LoadReport(List<Attempt> failed, LayerPlan loaded, Map<String, Long> measured) {

    public LoadReport {
        failed = List.copyOf(failed);
        measured = Map.copyOf(measured);
    }

    /**
     * One failed attempt.
     *
     * @param plan        what it tried
     * @param device      the device that ran out
     * @param failedAt    where: {@code layer 17 weights}, {@code KV cache}, {@code activations}, {@code scratch}, …
     * @param askedBytes  the allocation that failed
     * @param inUseBytes  what the device held for the attempt when it failed (what did fit)
     * @param freeBytes   what was left under the device's budget then
     * @param error       the error's message
     */
    public record Attempt(LayerPlan plan, String device, String failedAt, long askedBytes, long inUseBytes, long freeBytes,
                          String error) {
    }

    public int attempts() {
        return failed.size() + 1;
    }

    /**
     * One line for the log, e.g. {@code offload: asked for all 23 layers on cuda:0; out of memory at
     * layer 17 weights (asked 44.00 MiB, 12.30 MiB free); loaded with 15 layers after 2 attempts}.
     */
    public String line() {
        StringBuilder sb = new StringBuilder("offload: ");
        if (failed.isEmpty()) {
            return sb.append(loaded.summary()).toString();
        }
        Attempt first = failed.get(0);
        sb.append("asked for ").append(asked(first.plan())).append("; ");
        sb.append(failure(first));
        sb.append("; loaded with ").append(loaded.deviceLayers()).append(" layer").append(loaded.deviceLayers() == 1 ? "" : "s");
        if (!loaded.output().backend().equals("cpu")) {
            sb.append(" and the output head");
        }
        sb.append(" on the device").append(loaded.devices().size() > 1 ? "s" : "");
        sb.append(" after ").append(attempts()).append(" attempts");
        return sb.toString();
    }

    /** {@code out of memory at layer 17 weights (asked 44.00 MiB, 12.30 MiB free)} */
    public static String failure(Attempt a) {
        return "out of memory on " + a.device() + " at " + a.failedAt() + " (asked " + MemoryInfo.human(a.askedBytes()) + ", "
                + (a.freeBytes() < 0 ? "free unknown" : MemoryInfo.human(a.freeBytes()) + " free") + ")";
    }

    /** {@code all 23 layers on cuda:0}, {@code 11 layers on cuda:0}. */
    public static String asked(LayerPlan p) {
        String where = String.join(", ", p.devices().stream().filter(d -> d.layerCount() > 0 || d.output())
                .map(LayerPlan.DevicePlan::id).toList());
        if (p.deviceLayers() == p.layerCount() && !p.output().backend().equals("cpu")) {
            return "all " + p.layerCount() + " layers and the output head on " + where;
        }
        return p.deviceLayers() + " of " + p.layerCount() + " layers on " + where;
    }

    /** What an allocation description names, in the plan's words: {@code weight blk.3.ffn_up.weight} is {@code layer 3 weights}. */
    public static String describeAllocation(String allocation) {
        if (allocation == null) {
            return "an allocation";
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^weight blk\\.(\\d+)\\.").matcher(allocation);
        if (m.find()) {
            return "layer " + m.group(1) + " weights";
        }
        if (allocation.startsWith("weight ")) {
            return "output head weights";
        }
        if (allocation.startsWith("K cache") || allocation.startsWith("V cache") || allocation.startsWith("KV cache")) {
            return "KV cache";
        }
        if (allocation.startsWith("activations")) {
            return "activations";
        }
        if (allocation.startsWith("rope table")) {
            return "scratch";
        }
        return allocation;
    }
}
