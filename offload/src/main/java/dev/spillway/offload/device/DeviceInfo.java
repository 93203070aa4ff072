package dev.spillway.offload.device;

/**
 * One device as discovery reports it.
 *
 * @param api          {@code opencl}, {@code cuda} or {@code hip}
 * @param index        index among that API's devices (the N of {@code --device opencl:N})
 * @param name         the device's name
 * @param vendor       the vendor (for OpenCL, with the platform)
 * @param totalBytes   device memory the API reports
 * @param freeBytes    free device memory, or -1 where the API cannot tell (OpenCL)
 */
public record DeviceInfo(String api, int index, String name, String vendor, long totalBytes, long freeBytes) {

    /** {@code api:index}, the form {@code --device} takes. */
    public String id() {
        return api + ":" + index;
    }
}
