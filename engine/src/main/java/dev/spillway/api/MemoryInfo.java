package dev.spillway.api;

import java.util.Map;

/**
 * A context's memory, in bytes.
 *
 * @param modelBytes          bytes of the model's tensors in the file (mapped or read into host memory)
 * @param deviceWeightBytes   bytes backends allocated for weight copies (0 when everything runs on the CPU)
 * @param kvCacheBytes        this context's KV cache, all layers, K and V
 * @param activationBytes     this context's activation buffers and host staging
 * @param tokensUsed          positions of the context filled so far
 * @param contextSize         positions the context holds
 * @param allocatedByBackend  bytes each backend has allocated now (all contexts of the model)
 */
public record MemoryInfo(long modelBytes, long deviceWeightBytes, long kvCacheBytes, long activationBytes,
                         int tokensUsed, int contextSize, Map<String, Long> allocatedByBackend) {

    public MemoryInfo {
        allocatedByBackend = Map.copyOf(allocatedByBackend);
    }

    /** Everything this context needs: model + device weights + KV cache + activations. */
    public long totalBytes() {
        return modelBytes + deviceWeightBytes + kvCacheBytes + activationBytes;
    }

    /** A human-readable breakdown, as printed by {@code spillway run --verbose}. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-18s %12s%n", "model (file)", human(modelBytes)));
        if (deviceWeightBytes > 0) {
            sb.append(String.format("%-18s %12s%n", "device weights", human(deviceWeightBytes)));
        }
        sb.append(String.format("%-18s %12s  (%d / %d tokens used)%n", "KV cache", human(kvCacheBytes), tokensUsed, contextSize));
        sb.append(String.format("%-18s %12s%n", "activations", human(activationBytes)));
        sb.append(String.format("%-18s %12s%n", "total", human(totalBytes())));
        allocatedByBackend.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                sb.append(String.format("%-18s %12s%n", "  on " + e.getKey(), human(e.getValue()))));
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
