package dev.spillway.offload.schedule;

/**
 * Bytes one backend needs for a plan, by kind.
 *
 * @param weightBytes     the weights it holds (device: GGUF blocks; CPU: 0 when mapped, the file when read)
 * @param kvCacheBytes    the KV caches of every planned context for its layers
 * @param activationBytes the batch buffers of every planned context (and the output head's, if it runs it)
 * @param scratchBytes    scratch shared by the contexts (the device's RoPE table; the CPU's per-thread buffers, estimated)
 */
public record Estimate(long weightBytes, long kvCacheBytes, long activationBytes, long scratchBytes) {
    public static final Estimate ZERO = new Estimate(0, 0, 0, 0);

    /** What the backend allocates: the sum of the four. */
    public long totalBytes() {
        return weightBytes + kvCacheBytes + activationBytes + scratchBytes;
    }
}
