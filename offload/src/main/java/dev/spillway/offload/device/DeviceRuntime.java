package dev.spillway.offload.device;

import java.lang.foreign.MemorySegment;

/**
 * What one device API (OpenCL, CUDA, HIP) provides to the shared device backend: memory, copies,
 * compiled kernels and launches on one device, in one context and one in-order queue/stream.
 *
 * <p>Every call goes through the API's status checker; out-of-memory statuses surface as
 * {@link dev.spillway.bindings.GpuMemoryError}, everything else as
 * {@link dev.spillway.bindings.NativeException}. The runtime owns its context, queue and module, and
 * frees them in {@link #close()}; buffers are freed by {@link DeviceBuffer#close()}.
 *
 * <p>Launch geometry follows CUDA's vocabulary: {@code groups} work-groups (blocks) of
 * {@code groupSize} work-items (threads) in each of three dimensions. OpenCL runtimes translate it
 * to a global size of {@code groups * groupSize}.
 */
public interface DeviceRuntime extends AutoCloseable {

    /** The API: {@code opencl}, {@code cuda} or {@code hip}. */
    String api();

    /** The device this runtime drives. */
    DeviceInfo device();

    /** Allocates {@code bytes} of device memory (contents undefined). */
    DeviceBuffer allocate(long bytes);

    /**
     * Copies {@code src} (host) to {@code dst} at {@code dstOffset}; the host memory may be reused when
     * this returns. The copy is ordered after every launch enqueued before it (the shared backend
     * rewrites small scratch buffers, e.g. the RoPE table, between launches). {@link DeviceBackend}
     * passes native segments only.
     */
    void upload(DeviceBuffer dst, long dstOffset, MemorySegment src);

    /** Waits for queued work, then copies {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} to host memory. */
    void download(DeviceBuffer src, long srcOffset, MemorySegment dst);

    /** Looks a kernel of the shared kernel source up by name (compiled once per runtime). */
    Kernel kernel(String name);

    /**
     * Enqueues a kernel launch; arguments in the kernel's parameter order ({@code IntArg} = C {@code int},
     * {@code LongArg} = {@code spw_i64}, {@code FloatArg} = {@code float}, {@code BufferArg} = a device
     * pointer). {@code groupSize} is exactly the group size the kernel was written for.
     */
    void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args);

    /** Waits until every enqueued operation has finished. */
    void synchronize();

    /** Frees the queue, kernels/module and context. Buffers must have been closed. */
    @Override
    void close();

    /** A compiled kernel; owned by its runtime. */
    interface Kernel {
        String name();
    }
}
