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

    /** Enqueues a host-to-device copy on {@code stream}; synchronize the stream before reusing {@code src}. */
    void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream);

    /** Enqueues a device-to-host copy on {@code stream}; synchronize the stream before reading {@code dst}. */
    void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream);

    void synchronize(MemorySegment stream);

    /** Looks a kernel up by its (unmangled) name. */
    MemorySegment function(MemorySegment module, String name);

    /** Launches {@code function} with {@code params} a {@code void**} of pointers to the argument values. */
    void launch(MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment stream, MemorySegment params);

    /** Free and total memory of the current device. */
    DeviceMemory memoryInfo();
}
