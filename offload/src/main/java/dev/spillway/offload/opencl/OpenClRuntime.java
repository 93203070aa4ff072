package dev.spillway.offload.opencl;

import static dev.spillway.bindings.opencl.gen.OpenCl.C_LONG;
import static dev.spillway.bindings.opencl.gen.OpenCl.C_POINTER;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.opencl.ClInfo;
import dev.spillway.bindings.opencl.ClStatus;
import dev.spillway.bindings.opencl.OpenClLibrary;
import dev.spillway.bindings.opencl.gen.OpenCl;
import dev.spillway.offload.device.DeviceBuffer;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceKind;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.KernelArgs;
import dev.spillway.offload.device.KernelSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * {@link DeviceRuntime} over OpenCL: one context, one in-order command queue and the program built
 * once from the packaged kernel source ({@link KernelSource#openCl()}) for one device. Kernels are
 * created on first use and released on {@link #close()}, with the program, queue and context.
 *
 * <p>Devices are numbered across platforms in the order {@code clGetPlatformIDs} and
 * {@code clGetDeviceIDs(CL_DEVICE_TYPE_ALL)} list them: that number is the N of {@code opencl:N}.
 *
 * <p>Every call goes through {@link ClStatus}. A buffer larger than {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}
 * is refused with a {@link GpuMemoryError} before the API is called (OpenCL would answer
 * {@code CL_INVALID_BUFFER_SIZE}). Calls are synchronized: the kernel objects' arguments are state.
 */
public final class OpenClRuntime implements DeviceRuntime {
    /** Build options: the kernels are OpenCL C 1.2 (PoCL's and most drivers' level). */
    static final String BUILD_OPTIONS = "-cl-std=CL1.2";

    private final Arena arena = Arena.ofShared();    // this runtime's scratch: argument and size arrays
    private final DeviceInfo info;
    private final MemorySegment device;
    private final long maxAllocation;
    private final MemorySegment context;
    private final MemorySegment queue;
    private final MemorySegment program;
    private final Map<String, ClKernel> kernels = new LinkedHashMap<>();
    private final MemorySegment argValue;            // 8 bytes: the value clSetKernelArg copies
    private final MemorySegment globalSize;          // size_t[3]
    private final MemorySegment localSize;           // size_t[3]
    private final int[] paddedGroups = new int[3];   // a launch's geometry in 3 dimensions, for its failure message
    private final int[] paddedSize = new int[3];
    private boolean closed;

    /** One OpenCL device: its platform and device handles and what discovery reports. */
    record ClDevice(MemorySegment platform, MemorySegment device, DeviceInfo info) {
    }

    /** Why OpenCL cannot be used here, or empty when the library loaded. */
    public static Optional<String> unavailableReason() {
        return OpenClLibrary.load();
    }

    /** Every OpenCL device of every platform; empty when the library or a platform is missing. */
    public static List<DeviceInfo> devices() {
        return listDevices().stream().map(ClDevice::info).toList();
    }

    static synchronized List<ClDevice> listDevices() {
        if (OpenClLibrary.load().isPresent()) {
            return List.of();
        }
        List<ClDevice> all = new ArrayList<>();
        for (MemorySegment platform : ClInfo.platforms()) {
            String platformName = ClInfo.platformString(platform, OpenCl.CL_PLATFORM_NAME());
            for (MemorySegment d : ClInfo.devices(platform)) {
                String name = ClInfo.deviceString(d, OpenCl.CL_DEVICE_NAME());
                String vendor = ClInfo.deviceString(d, OpenCl.CL_DEVICE_VENDOR());
                long total = ClInfo.deviceLong(d, OpenCl.CL_DEVICE_GLOBAL_MEM_SIZE());
                all.add(new ClDevice(platform, d, new DeviceInfo("opencl", all.size(), name, platformName + " / " + vendor,
                        total, -1, kind(ClInfo.deviceType(d)))));
            }
        }
        return List.copyOf(all);
    }

    /**
     * The kind a {@code CL_DEVICE_TYPE} bit field names: GPU, accelerator or CPU, in that order where
     * a device sets more than one type bit; else (custom devices) other.
     */
    static DeviceKind kind(long clDeviceType) {
        if ((clDeviceType & OpenCl.CL_DEVICE_TYPE_GPU()) != 0) {
            return DeviceKind.GPU;
        }
        if ((clDeviceType & OpenCl.CL_DEVICE_TYPE_ACCELERATOR()) != 0) {
            return DeviceKind.ACCELERATOR;
        }
        if ((clDeviceType & OpenCl.CL_DEVICE_TYPE_CPU()) != 0) {
            return DeviceKind.CPU;
        }
        return DeviceKind.OTHER;
    }

    /**
     * Opens device {@code index}: context, queue, program.
     *
     * @throws IllegalStateException    when OpenCL is not available
     * @throws IllegalArgumentException when there is no such device
     */
    public static OpenClRuntime open(int index) {
        return open(index, KernelSource.openCl());
    }

    /** {@link #open(int)} with another program source (tests of the build-failure path). */
    static OpenClRuntime open(int index, String source) {
        ClDevice d = clDevice(index);
        return new OpenClRuntime(d, source, queueWithProperties(ClInfo.platformString(d.platform(), OpenCl.CL_PLATFORM_VERSION()),
                ClInfo.deviceString(d.device(), OpenCl.CL_DEVICE_VERSION())));
    }

    /** {@link #open(int)} with the OpenCL 1.x queue call whatever the versions say (tests: 2.0+ platforms keep it). */
    static OpenClRuntime openWithOpenCl1Queue(int index) {
        return new OpenClRuntime(clDevice(index), KernelSource.openCl(), false);
    }

    private static ClDevice clDevice(int index) {
        OpenClLibrary.require();
        List<ClDevice> all = listDevices();
        if (index < 0 || index >= all.size()) {
            throw new IllegalArgumentException("no OpenCL device " + index + ": " + all.size() + " found"
                    + (all.isEmpty() ? "" : " (" + all.stream().map(d -> d.info().id() + " " + d.info().name()).toList() + ")"));
        }
        return all.get(index);
    }

    /** @param queueWithProperties whether to create the queue with the OpenCL 2.0 call ({@link #queueWithProperties(String, String)}) */
    private OpenClRuntime(ClDevice d, String source, boolean queueWithProperties) {
        this.info = d.info();
        this.device = d.device();
        MemorySegment ctx = MemorySegment.NULL;
        MemorySegment q = MemorySegment.NULL;
        MemorySegment prog = MemorySegment.NULL;
        try {
            this.maxAllocation = ClInfo.deviceLong(device, OpenCl.CL_DEVICE_MAX_MEM_ALLOC_SIZE());
            this.argValue = arena.allocate(8, 8);
            this.globalSize = arena.allocate(C_LONG, 3);
            this.localSize = arena.allocate(C_LONG, 3);
            try (Arena call = Arena.ofConfined()) {
                MemorySegment err = call.allocate(ValueLayout.JAVA_INT);
                // cl_context_properties: { CL_CONTEXT_PLATFORM, platform, 0 }
                MemorySegment props = call.allocate(C_LONG, 3);
                props.setAtIndex(C_LONG, 0, OpenCl.CL_CONTEXT_PLATFORM());
                props.setAtIndex(C_LONG, 1, d.platform().address());
                props.setAtIndex(C_LONG, 2, 0L);
                MemorySegment devices = call.allocate(C_POINTER, 1);
                devices.setAtIndex(C_POINTER, 0, device);
                ctx = ClStatus.checkCreated(OpenCl.clCreateContext(props, 1, devices, MemorySegment.NULL, MemorySegment.NULL,
                        err), err, "clCreateContext", -1);
                q = queueWithProperties
                        ? ClStatus.checkCreated(OpenCl.clCreateCommandQueueWithProperties(ctx, device, MemorySegment.NULL, err),
                                err, "clCreateCommandQueueWithProperties", -1)
                        : ClStatus.checkCreated(OpenCl.clCreateCommandQueue(ctx, device, 0L, err), err, "clCreateCommandQueue", -1);
                prog = build(ctx, source, call);
            }
        } catch (RuntimeException | Error e) {
            release(prog, q, ctx, e);
            arena.close();
            throw e;
        }
        this.context = ctx;
        this.queue = q;
        this.program = prog;
    }

    /**
     * Whether the in-order queue is created with {@code clCreateCommandQueueWithProperties}: where
     * both versions ({@code CL_PLATFORM_VERSION}, {@code CL_DEVICE_VERSION}) are 2.0 or newer. Else
     * the 1.x {@code clCreateCommandQueue} (which 2.0 deprecated, and which 1.x platforms alone have).
     */
    static boolean queueWithProperties(String platformVersion, String deviceVersion) {
        return Math.min(ClInfo.version(platformVersion), ClInfo.version(deviceVersion)) >= 200;
    }

    private MemorySegment build(MemorySegment ctx, String source, Arena call) {
        MemorySegment err = call.allocate(ValueLayout.JAVA_INT);
        MemorySegment text = call.allocateFrom(source);
        MemorySegment strings = call.allocate(C_POINTER, 1);
        strings.setAtIndex(C_POINTER, 0, text);
        MemorySegment prog = ClStatus.checkCreated(OpenCl.clCreateProgramWithSource(ctx, 1, strings, MemorySegment.NULL, err),
                err, "clCreateProgramWithSource", -1);
        MemorySegment devices = call.allocate(C_POINTER, 1);
        devices.setAtIndex(C_POINTER, 0, device);
        int status = OpenCl.clBuildProgram(prog, 1, devices, call.allocateFrom(BUILD_OPTIONS), MemorySegment.NULL,
                MemorySegment.NULL);
        if (status != OpenCl.CL_SUCCESS()) {
            String log;
            try {
                log = "build log of the Spillway kernels on " + info.name() + ":\n" + ClInfo.buildLog(prog, device);
            } catch (RuntimeException e) {
                log = "(no build log: " + e.getMessage() + ")";
            }
            RuntimeException failure = ClStatus.failure(status, "clBuildProgram", -1, log);
            release(prog, MemorySegment.NULL, MemorySegment.NULL, failure);
            throw failure;
        }
        return prog;
    }

    /** Releases whichever of program, queue and context exist, adding release failures to {@code failure}. */
    private static void release(MemorySegment prog, MemorySegment q, MemorySegment ctx, Throwable failure) {
        try {
            if (!prog.equals(MemorySegment.NULL)) {
                ClStatus.check(OpenCl.clReleaseProgram(prog), "clReleaseProgram");
            }
            if (!q.equals(MemorySegment.NULL)) {
                ClStatus.check(OpenCl.clReleaseCommandQueue(q), "clReleaseCommandQueue");
            }
            if (!ctx.equals(MemorySegment.NULL)) {
                ClStatus.check(OpenCl.clReleaseContext(ctx), "clReleaseContext");
            }
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    @Override
    public String api() {
        return "opencl";
    }

    @Override
    public DeviceInfo device() {
        return info;
    }

    /** {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}: the largest single buffer. */
    public long maxAllocationBytes() {
        return maxAllocation;
    }

    @Override
    public synchronized DeviceBuffer allocate(long bytes) {
        checkOpen();
        if (bytes <= 0) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        }
        if (bytes > maxAllocation) {
            throw new GpuMemoryError("opencl", "CL_INVALID_BUFFER_SIZE", bytes, "a buffer of " + bytes
                    + " bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE of " + info.name() + " (" + maxAllocation + " bytes)");
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment err = call.allocate(ValueLayout.JAVA_INT);
            MemorySegment mem = OpenCl.clCreateBuffer(context, OpenCl.CL_MEM_READ_WRITE(), bytes, MemorySegment.NULL, err);
            return new ClBuffer(ClStatus.checkCreated(mem, err, "clCreateBuffer", bytes), bytes);
        }
    }

    /**
     * A non-blocking write: OpenCL reads {@code src} until the command completes, so the caller keeps
     * it until a {@link #synchronize()} or {@link #download}, as {@link DeviceRuntime#upload} says.
     */
    @Override
    public synchronized void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
        DeviceRuntime.requireNative(src, "upload");
        ClBuffer b = buffer(dst, dstOffset, src.byteSize());
        ClStatus.check(OpenCl.clEnqueueWriteBuffer(queue, b.mem, OpenCl.CL_FALSE(), dstOffset, src.byteSize(), src, 0,
                MemorySegment.NULL, MemorySegment.NULL), "clEnqueueWriteBuffer");
    }

    /** A blocking read: the in-order queue runs it after everything enqueued before, uploads included. */
    @Override
    public synchronized void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        DeviceRuntime.requireNative(dst, "download");
        ClBuffer b = buffer(src, srcOffset, dst.byteSize());
        ClStatus.check(OpenCl.clEnqueueReadBuffer(queue, b.mem, OpenCl.CL_TRUE(), srcOffset, dst.byteSize(), dst, 0,
                MemorySegment.NULL, MemorySegment.NULL), "clEnqueueReadBuffer");
    }

    private ClBuffer buffer(DeviceBuffer buffer, long offset, long bytes) {
        checkOpen();
        if (!(buffer instanceof ClBuffer b) || b.owner() != this) {
            throw new IllegalArgumentException(buffer + " is not a buffer of this OpenCL runtime");
        }
        if (b.closed) {
            throw new IllegalStateException("the OpenCL buffer is closed");
        }
        if (offset < 0 || bytes < 0 || offset + bytes > b.size) {
            throw new IllegalArgumentException("bytes " + offset + " .. " + (offset + bytes) + " are outside a buffer of " + b.size);
        }
        return b;
    }

    @Override
    public synchronized Kernel kernel(String name) {
        checkOpen();
        ClKernel k = kernels.get(name);
        if (k == null) {
            try (Arena call = Arena.ofConfined()) {
                MemorySegment err = call.allocate(ValueLayout.JAVA_INT);
                MemorySegment handle = OpenCl.clCreateKernel(program, call.allocateFrom(name), err);
                k = new ClKernel(name, ClStatus.checkCreated(handle, err, "clCreateKernel(" + name + ")", -1), this);
            }
            kernels.put(name, k);
        }
        return k;
    }

    @Override
    public synchronized void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args) {
        checkOpen();
        if (!(kernel instanceof ClKernel k) || k.owner() != this) {
            throw new IllegalArgumentException(kernel + " is not a kernel of this OpenCL runtime");
        }
        if (groups.length < 1 || groups.length > 3 || groupSize.length < 1 || groupSize.length > 3) {
            throw new IllegalArgumentException("launch of " + k.name() + ": geometry needs 1 to 3 dimensions");
        }
        for (int i = 0; i < args.size(); i++) {
            long size = switch (args.kindAt(i)) {
                case BUFFER -> {
                    argValue.set(C_POINTER, 0, buffer(args.bufferAt(i), 0, 0).mem);
                    yield C_POINTER.byteSize();
                }
                case I32 -> {
                    argValue.set(ValueLayout.JAVA_INT, 0, args.intAt(i));
                    yield 4;
                }
                case I64 -> {
                    argValue.set(ValueLayout.JAVA_LONG, 0, args.longAt(i));
                    yield 8;
                }
                case F32 -> {
                    argValue.set(ValueLayout.JAVA_FLOAT, 0, args.floatAt(i));
                    yield 4;
                }
            };
            ClStatus.check(OpenCl.clSetKernelArg(k.handle(), i, size, argValue), "clSetKernelArg", k.name(), i);
        }
        for (int d = 0; d < 3; d++) {
            paddedGroups[d] = d < groups.length ? groups[d] : 1;
            paddedSize[d] = d < groupSize.length ? groupSize[d] : 1;
            if (paddedGroups[d] < 1 || paddedSize[d] < 1) {
                throw new IllegalArgumentException("launch of " + k.name() + ": empty dimension " + d);
            }
            globalSize.setAtIndex(C_LONG, d, (long) paddedGroups[d] * paddedSize[d]);
            localSize.setAtIndex(C_LONG, d, paddedSize[d]);
        }
        ClStatus.checkLaunch(OpenCl.clEnqueueNDRangeKernel(queue, k.handle(), 3, MemorySegment.NULL, globalSize, localSize, 0,
                MemorySegment.NULL, MemorySegment.NULL), k.name(), paddedGroups, paddedSize);
    }

    @Override
    public synchronized void synchronize() {
        checkOpen();
        ClStatus.check(OpenCl.clFinish(queue), "clFinish");
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the OpenCL runtime of " + info.id() + " is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        try {
            ClStatus.check(OpenCl.clFinish(queue), "clFinish");
        } catch (RuntimeException e) {
            failure = e;
        }
        for (ClKernel k : kernels.values()) {
            try {
                ClStatus.check(OpenCl.clReleaseKernel(k.handle()), "clReleaseKernel(" + k.name() + ")");
            } catch (RuntimeException e) {
                failure = addTo(failure, e);
            }
        }
        kernels.clear();
        RuntimeException released = new RuntimeException("releasing the OpenCL runtime");
        release(program, queue, context, released);
        for (Throwable t : released.getSuppressed()) {
            failure = addTo(failure, (RuntimeException) t);
        }
        arena.close();
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException addTo(RuntimeException first, RuntimeException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    @Override
    public String toString() {
        return "OpenCL runtime of " + info.id() + " (" + info.name() + ")";
    }

    /** A compiled kernel, owned (and released) by its runtime. */
    private record ClKernel(String name, MemorySegment handle, OpenClRuntime owner) implements Kernel {
        ClKernel {
            Objects.requireNonNull(name);
        }
    }

    /** A {@code cl_mem} buffer; closing releases it (OpenCL defers the free until queued commands are done). */
    private final class ClBuffer implements DeviceBuffer {
        final MemorySegment mem;
        final long size;
        volatile boolean closed;   // written under the runtime's lock; read by isClosed without it

        ClBuffer(MemorySegment mem, long size) {
            this.mem = mem;
            this.size = size;
        }

        OpenClRuntime owner() {
            return OpenClRuntime.this;
        }

        @Override
        public long byteSize() {
            return size;
        }

        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public void close() {
            synchronized (OpenClRuntime.this) {
                if (closed) {
                    return;
                }
                closed = true;
                ClStatus.check(OpenCl.clReleaseMemObject(mem), "clReleaseMemObject");
            }
        }

        @Override
        public String toString() {
            return "OpenCL buffer of " + size + " bytes" + (closed ? " (closed)" : "");
        }
    }
}
