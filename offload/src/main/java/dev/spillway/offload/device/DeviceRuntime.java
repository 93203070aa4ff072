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
     * Enqueues a copy of {@code src} (native host memory) to {@code dst} at {@code dstOffset}, ordered
     * after every operation enqueued before it and before every one enqueued after it (the shared
     * backend rewrites small scratch buffers, e.g. the RoPE table, between launches).
     *
     * <p>The copy may still read {@code src} after this returns: the caller must neither change nor
     * free {@code src} until this runtime's next {@link #synchronize()} or {@link #download} has
     * returned. So uploads queue behind running kernels without draining the queue; a caller that
     * reuses its host memory at once synchronizes first ({@link DeviceBackend} tracks its staging
     * buffers for that).
     *
     * @throws IllegalArgumentException for a heap segment: native segments only ({@link #requireNative})
     */
    void upload(DeviceBuffer dst, long dstOffset, MemorySegment src);

    /**
     * Waits for queued work, then copies {@code dst.byteSize()} bytes from {@code src} at
     * {@code srcOffset} to {@code dst} (native host memory); when this returns, every earlier upload
     * has completed too.
     *
     * @throws IllegalArgumentException for a heap segment
     */
    void download(DeviceBuffer src, long srcOffset, MemorySegment dst);

    /** Looks a kernel of the shared kernel source up by name (compiled once per runtime). */
    Kernel kernel(String name);

    /**
     * Enqueues a kernel launch; arguments in the kernel's parameter order (see {@link KernelArgs.Kind}).
     * {@code groups} and {@code groupSize} have 1 to 3 dimensions (missing ones are 1); {@code groupSize}
     * is exactly the group size the kernel was written for. The runtime copies what it needs, so the
     * caller may reuse the arrays and {@code args} when this returns. A failure names the kernel and
     * the grid.
     *
     * @throws IllegalArgumentException when a dimension is below 1, or {@code groups[1]} exceeds {@link #maxGroupsY()}
     */
    void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args);

    /**
     * The most groups a launch may have in dimension Y, which the backend uses for the tokens of a
     * batch: 65535 on CUDA and HIP; OpenCL bounds only the total size.
     */
    default int maxGroupsY() {
        return Integer.MAX_VALUE;
    }

    /** Waits until every enqueued operation has finished. */
    void synchronize();

    /** Frees the queue, kernels/module and context. Buffers must have been closed. */
    @Override
    void close();

    /**
     * Host memory handed to a runtime must be native: the APIs take addresses, and staging heap
     * memory is the caller's business (the backend owns its staging buffers).
     *
     * @throws IllegalArgumentException for a heap segment
     */
    static void requireNative(MemorySegment host, String call) {
        if (!host.isNative()) {
            throw new IllegalArgumentException(call + " takes native host memory, not a heap segment");
        }
    }

    /** A compiled kernel; owned by its runtime. */
    interface Kernel {
        String name();
    }
}
