package dev.spillway.bindings;

/**
 * Memory of one device, in bytes, as an API reported it at one moment.
 *
 * @param freeBytes  memory not in use by anyone (this process or others)
 * @param totalBytes memory the device has
 */
public record DeviceMemory(long freeBytes, long totalBytes) {
    public DeviceMemory {
        if (totalBytes < 0 || freeBytes < 0 || freeBytes > totalBytes) {
            throw new IllegalArgumentException("free " + freeBytes + " of total " + totalBytes + " bytes");
        }
    }

    public long usedBytes() {
        return totalBytes - freeBytes;
    }
}
