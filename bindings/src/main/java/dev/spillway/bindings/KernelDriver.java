package dev.spillway.bindings;

import java.lang.foreign.MemorySegment;

/**
 * What the CUDA driver API and HIP's module API have in common, so one device runtime can drive
 * either: device memory as plain addresses, copies and launches on a stream, kernels looked up in a
 * loaded module and launched with a {@code void**} of argument pointers. Each call is checked by the
 * API's status checker. Calls need the context/device bound to the calling thread.
 */
public interface KernelDriver {

    /** {@code cuda} or {@code hip}. */
    String api();

    /** Allocates device memory; {@link GpuMemoryError} when the device is out of memory. */
    long allocate(long bytes);

    void free(long pointer);

    /** Enqueues a host-to-device copy from native {@code src} on {@code stream}; synchronize the stream before changing or freeing {@code src}. */
    void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream);

    /** Enqueues a device-to-host copy on {@code stream}; synchronize the stream before reading {@code dst}. */
    void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream);

    void synchronize(MemorySegment stream);

    /** Looks a kernel up by its (unmangled) name. */
    MemorySegment function(MemorySegment module, String name);

    /**
     * Launches {@code function}, the kernel named {@code kernel}, on a grid of {@code grid[0..2]} blocks
     * of {@code block[0..2]} threads, with {@code params} a {@code void**} of pointers to the argument
     * values. A failure's message names the kernel and the grid (built only when the call fails).
     */
    void launch(MemorySegment function, String kernel, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                MemorySegment params);

    /** How a failed launch is named: {@code cuLaunchKernel(spw_rope, grid 1x70000x1, block 256x1x1)}. */
    static String describeLaunch(String call, String kernel, int[] grid, int[] block) {
        return call + "(" + kernel + ", grid " + grid[0] + "x" + grid[1] + "x" + grid[2] + ", block " + block[0] + "x"
                + block[1] + "x" + block[2] + ")";
    }

    /** Free and total memory of the current device. */
    DeviceMemory memoryInfo();
}
