package dev.spillway.offload.device;

import java.util.Objects;

/**
 * One device as discovery reports it.
 *
 * @param api          {@code opencl}, {@code cuda} or {@code hip}
 * @param index        index among that API's devices (the N of {@code --device opencl:N})
 * @param name         the device's name
 * @param vendor       the vendor (for OpenCL, with the platform)
 * @param totalBytes   device memory the API reports
 * @param freeBytes    free device memory, or -1 where the API cannot tell (OpenCL)
 * @param kind         GPU, CPU, … (CUDA and HIP devices are GPUs; OpenCL reports it)
 */
public record DeviceInfo(String api, int index, String name, String vendor, long totalBytes, long freeBytes, DeviceKind kind) {

    public DeviceInfo {
        Objects.requireNonNull(kind, "kind");
    }

    /** A {@link DeviceKind#GPU}. */
    public DeviceInfo(String api, int index, String name, String vendor, long totalBytes, long freeBytes) {
        this(api, index, name, vendor, totalBytes, freeBytes, DeviceKind.GPU);
    }

    /** {@code api:index}, the form {@code --device} takes. */
    public String id() {
        return api + ":" + index;
    }
}
