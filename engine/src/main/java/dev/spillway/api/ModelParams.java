package dev.spillway.api;

/**
 * How to load a model. Read once by {@code Model.load}; immutable.
 *
 * @param mmap              map the file (zero-copy, the default) instead of reading it into memory
 * @param mlock             pin the model's pages in RAM (best effort: a warning when the OS refuses)
 * @param threads           CPU threads for the CPU backend; 0 = every available core
 * @param gpuLayers         layers to offload to a device ({@code -ngl}); -1 = all, 0 = none
 * @param device            device for offloaded layers, e.g. {@code opencl:0}; null = the best available
 * @param deviceMemoryLimit bytes of device memory Spillway may use; 0 = what the device reports
 */
public record ModelParams(boolean mmap, boolean mlock, int threads, int gpuLayers, String device, long deviceMemoryLimit) {

    /** More CPU threads than this is a mistake, not a configuration. */
    public static final int MAX_THREADS = 1024;

    public ModelParams {
        if (threads < 0 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads (-t) must be 0 (all cores) or 1.." + MAX_THREADS + ", got " + threads);
        }
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpu layers must be -1 (all), 0 or positive, got " + gpuLayers);
        }
        if (deviceMemoryLimit < 0) {
            throw new IllegalArgumentException("device memory limit must not be negative, got " + deviceMemoryLimit);
        }
    }

    /** mmap on, mlock off, all cores, no offload, automatic device choice, no memory limit. */
    public static ModelParams defaults() {
        return new ModelParams(true, false, 0, 0, null, 0);
    }

    public ModelParams withMmap(boolean value) {
        return new ModelParams(value, mlock, threads, gpuLayers, device, deviceMemoryLimit);
    }

    public ModelParams withMlock(boolean value) {
        return new ModelParams(mmap, value, threads, gpuLayers, device, deviceMemoryLimit);
    }

    public ModelParams withThreads(int value) {
        return new ModelParams(mmap, mlock, value, gpuLayers, device, deviceMemoryLimit);
    }

    public ModelParams withGpuLayers(int value) {
        return new ModelParams(mmap, mlock, threads, value, device, deviceMemoryLimit);
    }

    public ModelParams withDevice(String value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, value, deviceMemoryLimit);
    }

    public ModelParams withDeviceMemoryLimit(long value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, value);
    }

    /** The thread count to use: {@link #threads()}, or the number of available processors when 0. */
    public int effectiveThreads() {
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }
}
