package dev.spillway.offload.device;

import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.KernelDriver;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * What the CUDA and HIP runtimes share: APIs with a context bound per thread, one stream, a module
 * loaded from precompiled code, device memory as plain addresses, and launches taking a
 * {@code void**} of argument pointers ({@link LaunchParams}).
 *
 * <p>The API's calls come through a {@link KernelDriver} (the checked CUDA or HIP wrapper). The
 * subclass's factory acquires the context, stream and module, registering each release in a
 * {@link Releases}, and hands them over; {@link #close()} frees buffers still open (with a warning),
 * then runs the releases. Every public method holds the runtime's lock and binds the context to the
 * calling thread first ({@link #makeCurrent()}; the wrappers skip the API call when the thread has it
 * bound already), so the runtime may be called from any thread.
 *
 * <p>Launches allocate nothing: the {@code void**} parameter block ({@link LaunchParams}) and the
 * padded grid arrays are this runtime's, reused under its lock; the block lives in the runtime's
 * arena, freed by {@link #close()}. Uploads are not waited for (see {@link DeviceRuntime#upload});
 * downloads wait for the stream. Host memory must be native: heap segments are refused, not staged.
 */
public abstract class ModuleRuntime implements DeviceRuntime {
    private static final System.Logger LOG = System.getLogger("dev.spillway");
    /** {@code gridDim.y} and {@code gridDim.z} are at most 65535 on CUDA; HIP is held to the same. */
    static final int MAX_GROUPS_YZ = 65535;

    private final DeviceInfo device;
    private final KernelDriver driver;
    private final MemorySegment stream;
    private final MemorySegment module;
    private final Releases releases;
    private final Map<String, ModuleKernel> kernels = new HashMap<>();
    private final Set<Buffer> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Arena arena = Arena.ofShared();   // the launch parameter block
    private final LaunchParams params = new LaunchParams(arena);
    private final int[] grid = new int[3];          // a launch's groups, padded to 3 dimensions
    private final int[] block = new int[3];         // a launch's group size, padded
    private final ToLongFunction<DeviceBuffer> launchAddress = b -> own(b, "launch").address;
    private boolean closed;

    /**
     * Takes ownership of {@code releases}, which {@link #close()} runs: they release {@code stream},
     * {@code module} and the context they live in.
     */
    protected ModuleRuntime(DeviceInfo device, KernelDriver driver, MemorySegment stream, MemorySegment module, Releases releases) {
        this.device = Objects.requireNonNull(device, "device");
        this.driver = Objects.requireNonNull(driver, "driver");
        this.stream = Objects.requireNonNull(stream, "stream");
        this.module = Objects.requireNonNull(module, "module");
        this.releases = Objects.requireNonNull(releases, "releases");
    }

    /** Binds this runtime's context (CUDA) or device (HIP) to the calling thread (a no-op where it is bound). */
    protected abstract void makeCurrent();

    @Override
    public String api() {
        return driver.api();
    }

    // ---- DeviceRuntime -------------------------------------------------------------------------

    @Override
    public DeviceInfo device() {
        return device;
    }

    /** Free and total device memory now (the device's, so other processes' use counts too). */
    public synchronized DeviceMemory memory() {
        checkOpen();
        makeCurrent();
        return driver.memoryInfo();
    }

    @Override
    public synchronized DeviceBuffer allocate(long bytes) {
        checkOpen();
        if (bytes <= 0) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        }
        makeCurrent();
        Buffer b = new Buffer(driver.allocate(bytes), bytes);
        live.add(b);
        return b;
    }

    /**
     * Enqueues the copy on the stream and returns: HIP (and CUDA for pinned memory) may read
     * {@code src} after this returns, so the caller keeps it until a {@link #synchronize()} or
     * {@link #download}, as {@link DeviceRuntime#upload} says.
     */
    @Override
    public synchronized void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
        checkOpen();
        DeviceRuntime.requireNative(src, "upload");
        Buffer b = own(dst, "upload");
        checkRange(b, dstOffset, src.byteSize(), "upload");
        if (src.byteSize() == 0) {
            return;
        }
        makeCurrent();
        driver.copyToDevice(b.address + dstOffset, src, src.byteSize(), stream);
    }

    @Override
    public synchronized void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        checkOpen();
        DeviceRuntime.requireNative(dst, "download");
        Buffer b = own(src, "download");
        checkRange(b, srcOffset, dst.byteSize(), "download");
        makeCurrent();
        if (dst.byteSize() > 0) {
            driver.copyToHost(dst, b.address + srcOffset, dst.byteSize(), stream);
        }
        driver.synchronize(stream);
    }

    @Override
    public synchronized Kernel kernel(String name) {
        checkOpen();
        ModuleKernel k = kernels.get(name);
        if (k == null) {
            makeCurrent();
            k = new ModuleKernel(name, driver.function(module, name), this);
            kernels.put(name, k);
        }
        return k;
    }

    @Override
    public synchronized void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args) {
        checkOpen();
        if (!(kernel instanceof ModuleKernel k) || k.owner != this) {
            throw new IllegalArgumentException("kernel " + kernel.name() + " does not belong to " + device.id());
        }
        pad(groups, grid, "groups", k.name);
        pad(groupSize, block, "group size", k.name);
        if (grid[1] > MAX_GROUPS_YZ || grid[2] > MAX_GROUPS_YZ) {
            throw new IllegalArgumentException(k.name + ": groups " + grid[0] + "x" + grid[1] + "x" + grid[2]
                    + " exceed " + api() + "'s grid limit of " + MAX_GROUPS_YZ + " in dimensions Y and Z");
        }
        MemorySegment pointers = params.fill(args, launchAddress);
        makeCurrent();
        driver.launch(k.function, k.name, grid, block, 0, stream, pointers);
    }

    /** CUDA's (and HIP's) grid limit in dimensions Y and Z. */
    @Override
    public int maxGroupsY() {
        return MAX_GROUPS_YZ;
    }

    @Override
    public synchronized void synchronize() {
        checkOpen();
        makeCurrent();
        driver.synchronize(stream);
    }

    /** Frees buffers still open (a warning names how many), then the module, stream and context. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        List<RuntimeException> failures = new ArrayList<>();
        try {
            makeCurrent();
            driver.synchronize(stream);
        } catch (RuntimeException e) {
            failures.add(e);
        }
        if (!live.isEmpty()) {
            LOG.log(Level.WARNING, "{0}: closing with {1} device buffer(s) still open; freeing them", device.id(), live.size());
            for (Buffer b : List.copyOf(live)) {
                try {
                    b.free();
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            }
        }
        closed = true;
        kernels.clear();
        try {
            releases.close();
        } catch (RuntimeException e) {
            failures.add(e);
        }
        arena.close();
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }

    /** Buffers allocated and not yet closed. */
    public synchronized int liveBuffers() {
        return live.size();
    }

    private Buffer own(DeviceBuffer buffer, String what) {
        if (!(buffer instanceof Buffer b) || b.owner() != this) {
            throw new IllegalArgumentException(what + ": buffer does not belong to " + device.id());
        }
        if (b.closed) {
            throw new IllegalStateException(what + ": buffer is closed");
        }
        return b;
    }

    private static void checkRange(Buffer b, long offset, long bytes, String what) {
        if (offset < 0 || bytes < 0 || offset > b.bytes - bytes) {
            throw new IndexOutOfBoundsException(what + " of " + bytes + " bytes at offset " + offset
                    + " does not fit a buffer of " + b.bytes + " bytes");
        }
    }

    /** Copies 1 to 3 launch dimensions into {@code out}, padded with ones; each must be positive. */
    private static void pad(int[] d, int[] out, String what, String kernel) {
        if (d == null || d.length < 1 || d.length > 3) {
            throw new IllegalArgumentException(kernel + ": " + what + " needs 1 to 3 dimensions");
        }
        for (int i = 0; i < 3; i++) {
            int n = i < d.length ? d[i] : 1;
            if (n < 1) {
                throw new IllegalArgumentException(kernel + ": " + what + " " + java.util.Arrays.toString(d) + " has a dimension below 1");
            }
            out[i] = n;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(device.id() + " runtime is closed");
        }
    }

    /** A kernel of this runtime's module. */
    private record ModuleKernel(String name, MemorySegment function, ModuleRuntime owner) implements Kernel {
    }

    /** A device allocation at {@code address}; closing it frees it (idempotent). */
    private final class Buffer implements DeviceBuffer {
        final long address;
        final long bytes;
        volatile boolean closed;   // written under the runtime's lock; read by isClosed without it

        Buffer(long address, long bytes) {
            this.address = address;
            this.bytes = bytes;
        }

        ModuleRuntime owner() {
            return ModuleRuntime.this;
        }

        @Override
        public long byteSize() {
            return bytes;
        }

        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public void close() {
            synchronized (ModuleRuntime.this) {
                if (!closed && !ModuleRuntime.this.closed) {
                    makeCurrent();
                    free();
                }
                closed = true;
            }
        }

        /** Frees the allocation; the caller has made the context current. */
        void free() {
            closed = true;
            live.remove(this);
            driver.free(address);
        }
    }
}
