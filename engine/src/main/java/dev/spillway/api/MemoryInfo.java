package dev.spillway.api;

import java.util.List;

/**
 * Memory of a model or of one context, in bytes, per budget: each device and the host.
 *
 * <p>From {@code Model.memoryInfo()}: each pool's weights, the KV caches and activations of every
 * open context, and {@code other} (backend scratch, a {@code --no-mmap} copy of the file), adding up
 * to what the pool's budget counts as used. From {@code Context.memoryInfo()}: the model's weights
 * and this context's KV cache and activations; {@code used} and {@code free} are still the whole
 * pool's.
 *
 * @param pools       one per budget, the host first
 * @param modelBytes  bytes of the model's tensors in the file (mapped: page cache, not counted in a budget)
 * @param tokensUsed  positions of the context filled so far (-1 for a model)
 * @param contextSize positions the context holds (-1 for a model)
 */
public record MemoryInfo(List<Pool> pools, long modelBytes, int tokensUsed, int contextSize) {

    public MemoryInfo {
        pools = List.copyOf(pools);
    }

    /**
     * One budget.
     *
     * @param name        {@code host} or a device ({@code opencl:0})
     * @param weightBytes weights the pool's backend allocated (0 for the CPU's zero-copy views)
     * @param kvCacheBytes  KV caches
     * @param activationBytes activation buffers
     * @param otherBytes  scratch, staging, a file copy: the rest of what the pool counts
     * @param usedBytes   what the pool's budget counts as in use now (all contexts)
     * @param budgetBytes the budget ({@code Long.MAX_VALUE}: none)
     */
    public record Pool(String name, long weightBytes, long kvCacheBytes, long activationBytes, long otherBytes,
                       long usedBytes, long budgetBytes) {
        /** Weights + KV cache + activations + other. */
        public long totalBytes() {
            return weightBytes + kvCacheBytes + activationBytes + otherBytes;
        }

        /** Budget left: budget - used. */
        public long freeBytes() {
            return budgetBytes == Long.MAX_VALUE ? Long.MAX_VALUE : budgetBytes - usedBytes;
        }
    }

    public Pool pool(String name) {
        return pools.stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no memory pool " + name + "; pools: "
                        + pools.stream().map(Pool::name).toList()));
    }

    /** KV cache bytes over all pools. */
    public long kvCacheBytes() {
        return pools.stream().mapToLong(Pool::kvCacheBytes).sum();
    }

    /** Activation bytes over all pools. */
    public long activationBytes() {
        return pools.stream().mapToLong(Pool::activationBytes).sum();
    }

    /** Weight bytes the backends allocated (device copies, the CPU's packed copies), over all pools; views of the file cost none. */
    public long allocatedWeightBytes() {
        return pools.stream().mapToLong(Pool::weightBytes).sum();
    }

    /** A table: one row per pool, as {@code spillway run --verbose} prints it. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-10s %11s %11s %11s %11s %11s %11s %11s%n", "pool", "weights", "KV cache", "activations",
                "other", "total", "budget", "free"));
        for (Pool p : pools) {
            sb.append(String.format("%-10s %11s %11s %11s %11s %11s %11s %11s%n", p.name(), human(p.weightBytes()),
                    human(p.kvCacheBytes()), human(p.activationBytes()), human(p.otherBytes()), human(p.totalBytes()),
                    p.budgetBytes() == Long.MAX_VALUE ? "-" : human(p.budgetBytes()),
                    p.budgetBytes() == Long.MAX_VALUE ? "-" : human(p.freeBytes())));
        }
        sb.append(String.format("model file %s%s%n", human(modelBytes),
                contextSize > 0 ? String.format("; KV cache %d / %d tokens used", tokensUsed, contextSize) : ""));
        return sb.toString();
    }

    /** Formats bytes with a binary unit, e.g. {@code 1.50 MiB}. */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.2f %s", v, units[u]);
    }
}
