package dev.spillway.bindings.cuda;

import static dev.spillway.bindings.cuda.gen.CudaDriver.*;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.CStrings;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.KernelDriver;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.OutParams;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The CUDA driver API ({@code libcuda.so.1}), checked: every call's {@code CUresult} goes through
 * {@link #check}, which throws {@link GpuMemoryError} for {@code CUDA_ERROR_OUT_OF_MEMORY} and
 * {@link CudaException} for any other error, each named by {@code cuGetErrorName}.
 *
 * <p>An instance exists only once the library is loaded ({@link #load}); the generated
 * {@code CudaDriver} is never touched before. Device pointers ({@code CUdeviceptr}) are longs;
 * contexts, streams, modules and functions are opaque {@link MemorySegment} handles whose owners
 * (the offload module's {@code CudaRuntime}) release them. Most calls need a current context on the
 * calling thread ({@link #setCurrent}).
 */
public final class Cuda implements KernelDriver {
    public static final String API = "cuda";
    public static final String SONAME = "libcuda.so.1";

    private static final int NAME_CAPACITY = 256;
    private static final int JIT_LOG_CAPACITY = 16 * 1024;

    /** No context address: nothing is known to be bound. */
    private static final long UNKNOWN = -1;
    /** Per thread: the address of the context last bound through {@link #setCurrent} (0 for none), or {@link #UNKNOWN}. */
    private static final ThreadLocal<long[]> CURRENT = ThreadLocal.withInitial(() -> new long[] {UNKNOWN});

    private Cuda() {
    }

    /** Loads {@code libcuda.so.1} (the NVIDIA driver's), or says why it cannot be used. */
    public static Availability<Cuda> load() {
        return Availability.load(Cuda::new, SONAME);
    }

    @Override
    public String api() {
        return API;
    }

    // ---- the status checker ------------------------------------------------------------------

    /** Throws unless {@code status} is {@code CUDA_SUCCESS}; {@code call} names the call for the message. */
    public void check(int status, String call) {
        check(status, call, -1);
    }

    /** As {@link #check(int, String)}, for an allocation of {@code requestedBytes}. */
    public void check(int status, String call, long requestedBytes) {
        if (status != CUDA_SUCCESS()) {
            String name = CStrings.readOut(out -> cuGetErrorName(status, out));
            String text = CStrings.readOut(out -> cuGetErrorString(status, out));
            throw failure(status, name, text, call, requestedBytes);
        }
    }

    /** The exception for a failed call: pure, so tests can check the mapping without a driver. */
    static NativeException failure(int status, String name, String description, String call, long requestedBytes) {
        String statusName = name != null ? name : "CUresult " + status;
        String message = call + ": " + statusName + (description != null ? " (" + description + ")" : "");
        if (status == CUDA_ERROR_OUT_OF_MEMORY()) {
            return new GpuMemoryError(API, statusName, requestedBytes, message);
        }
        return new CudaException(statusName, status, message);
    }

    // ---- driver and devices ------------------------------------------------------------------

    /** {@code cuInit(0)}; fails with {@code CUDA_ERROR_NO_DEVICE} where the driver sees no GPU. */
    public void init() {
        check(cuInit(0), "cuInit");
    }

    /** The driver's CUDA version, e.g. 13000 for 13.0. */
    public int driverVersion() {
        return OutParams.i32(out -> check(cuDriverGetVersion(out), "cuDriverGetVersion"));
    }

    public int deviceCount() {
        return OutParams.i32(out -> check(cuDeviceGetCount(out), "cuDeviceGetCount"));
    }

    /** The {@code CUdevice} handle of device {@code ordinal}. */
    public int device(int ordinal) {
        return OutParams.i32(out -> check(cuDeviceGet(out, ordinal), "cuDeviceGet(" + ordinal + ")"));
    }

    public String deviceName(int device) {
        return OutParams.string(NAME_CAPACITY, buf -> check(cuDeviceGetName(buf, NAME_CAPACITY, device), "cuDeviceGetName"));
    }

    /** The device's PCI address, e.g. {@code 0000:65:00.0} (what NVML looks devices up by). */
    public String pciBusId(int device) {
        return OutParams.string(64, buf -> check(cuDeviceGetPCIBusId(buf, 64, device), "cuDeviceGetPCIBusId"));
    }

    public long totalMemory(int device) {
        return OutParams.i64(out -> check(cuDeviceTotalMem_v2(out, device), "cuDeviceTotalMem_v2"));
    }

    public ComputeCapability computeCapability(int device) {
        return new ComputeCapability(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR(), device),
                attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR(), device));
    }

    private int attribute(int attribute, int device) {
        return OutParams.i32(out -> check(cuDeviceGetAttribute(out, attribute, device), "cuDeviceGetAttribute(" + attribute + ")"));
    }

    // ---- contexts and streams ----------------------------------------------------------------

    /** Retains the device's primary context (creating it on first use); pair with {@link #releasePrimaryContext}. */
    public MemorySegment retainPrimaryContext(int device) {
        return OutParams.address(out -> check(cuDevicePrimaryCtxRetain(out, device), "cuDevicePrimaryCtxRetain"));
    }

    public void releasePrimaryContext(int device) {
        check(cuDevicePrimaryCtxRelease_v2(device), "cuDevicePrimaryCtxRelease_v2");
    }

    /**
     * Binds {@code context} to the calling thread (CUDA's current context is per thread). Skips the
     * call when this thread's last {@code setCurrent} bound the same context: every binding Spillway
     * makes goes through here (runtimes, device listing, releases), so that record is the thread's
     * binding; code that binds contexts behind this wrapper's back is not supported.
     */
    public void setCurrent(MemorySegment context) {
        long[] current = CURRENT.get();
        if (current[0] == context.address()) {
            return;
        }
        current[0] = UNKNOWN;   // until the call succeeds
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        current[0] = context.address();
    }

    /** Free and total memory of the current context's device. */
    @Override
    public DeviceMemory memoryInfo() {
        long[] freeTotal = OutParams.i64Pair((free, total) -> check(cuMemGetInfo_v2(free, total), "cuMemGetInfo_v2"));
        return new DeviceMemory(freeTotal[0], freeTotal[1]);
    }

    /** A stream that synchronizes with the legacy default stream ({@code CU_STREAM_DEFAULT}). */
    public MemorySegment createStream() {
        return OutParams.address(out -> check(cuStreamCreate(out, CU_STREAM_DEFAULT()), "cuStreamCreate"));
    }

    public void destroyStream(MemorySegment stream) {
        check(cuStreamDestroy_v2(stream), "cuStreamDestroy_v2");
    }

    @Override
    public void synchronize(MemorySegment stream) {
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    // ---- memory ------------------------------------------------------------------------------

    @Override
    public long allocate(long bytes) {
        return OutParams.i64(out -> check(cuMemAlloc_v2(out, bytes), "cuMemAlloc_v2(" + bytes + " bytes)", bytes));
    }

    @Override
    public void free(long pointer) {
        check(cuMemFree_v2(pointer), "cuMemFree_v2");
    }

    /** Host to device on {@code stream}; pageable {@code src} may be reused when this returns (the driver stages it). */
    @Override
    public void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        check(cuMemcpyHtoDAsync_v2(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2(" + bytes + " bytes)");
    }

    /** Device to host on {@code stream}; synchronize the stream before reading {@code dst}. */
    @Override
    public void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        check(cuMemcpyDtoHAsync_v2(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2(" + bytes + " bytes)");
    }

    // ---- modules and launches ----------------------------------------------------------------

    /**
     * Loads a module from a cubin, fatbin or NUL-terminated PTX image (PTX is compiled by the
     * driver's JIT). A JIT failure's log is appended to the exception's message.
     */
    public MemorySegment loadModule(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment log = arena.allocate(JIT_LOG_CAPACITY);
            MemorySegment options = arena.allocateFrom(ValueLayout.JAVA_INT,
                    CU_JIT_ERROR_LOG_BUFFER(), CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES());
            MemorySegment values = arena.allocate(ValueLayout.ADDRESS, 2);
            values.setAtIndex(ValueLayout.ADDRESS, 0, log);
            values.setAtIndex(ValueLayout.ADDRESS, 1, MemorySegment.ofAddress(JIT_LOG_CAPACITY));
            MemorySegment module = arena.allocate(ValueLayout.ADDRESS);
            int status = cuModuleLoadDataEx(module, image, 2, options, values);
            String jitLog = log.getString(0).strip();
            check(status, "cuModuleLoadDataEx" + (jitLog.isEmpty() ? "" : " [JIT log: " + jitLog.replace('\n', ' ') + "]"));
            return module.get(ValueLayout.ADDRESS, 0);
        }
    }

    public void unloadModule(MemorySegment module) {
        check(cuModuleUnload(module), "cuModuleUnload");
    }

    @Override
    public MemorySegment function(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            return OutParams.address(out -> check(cuModuleGetFunction(out, module, cName), "cuModuleGetFunction(" + name + ")"));
        }
    }

    /** {@code cuLaunchKernel} with {@code params} a {@code void**} of pointers to each argument's value. */
    @Override
    public void launch(MemorySegment function, String kernel, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                       MemorySegment params) {
        int status = cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes, stream, params,
                MemorySegment.NULL);
        if (status != CUDA_SUCCESS()) {   // the message is built only for a failure
            check(status, KernelDriver.describeLaunch("cuLaunchKernel", kernel, grid, block));
        }
    }
}
