package dev.spillway.bindings.hip;

import static dev.spillway.bindings.hip.gen.HipRuntime.*;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.CStrings;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.KernelDriver;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.OutParams;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The HIP runtime ({@code libamdhip64.so.6}, else {@code .so.5}), checked: every call's
 * {@code hipError_t} goes through {@link #check}, which throws {@link GpuMemoryError} for
 * {@code hipErrorOutOfMemory} and {@link HipException} for any other error, each named by
 * {@code hipGetErrorName}.
 *
 * <p>Only entry points whose signatures are the same in HIP 5 and 6 are used (the bindings are
 * generated from Debian's HIP 5.2 headers); device properties that moved between the two
 * (hipDeviceProp_t) are not read. Device pointers are longs; streams, modules and functions are
 * opaque handles released by their owner (the offload module's {@code HipRuntime}). The current
 * device is per thread ({@link #setDevice}).
 */
public final class Hip implements KernelDriver {
    public static final String API = "hip";
    /** ROCm 6 first, then ROCm 5 (Debian 12 ships 5.2). */
    public static final String[] SONAMES = {"libamdhip64.so.6", "libamdhip64.so.5"};

    private static final int NAME_CAPACITY = 256;

    private static final int NONE = -1;
    /** Per thread: the device last set through {@link #setDevice}, or {@link #NONE}. */
    private static final ThreadLocal<int[]> CURRENT = ThreadLocal.withInitial(() -> new int[] {NONE});

    private Hip() {
    }

    /** Loads the HIP runtime, or says why it cannot be used. */
    public static Availability<Hip> load() {
        return Availability.load(Hip::new, SONAMES);
    }

    @Override
    public String api() {
        return API;
    }

    // ---- the status checker ------------------------------------------------------------------

    /** Throws unless {@code status} is {@code hipSuccess}; {@code call} names the call for the message. */
    public void check(int status, String call) {
        check(status, call, -1);
    }

    /** As {@link #check(int, String)}, for an allocation of {@code requestedBytes}. */
    public void check(int status, String call, long requestedBytes) {
        if (status != hipSuccess()) {
            throw failure(status, CStrings.read(hipGetErrorName(status)), CStrings.read(hipGetErrorString(status)),
                    call, requestedBytes);
        }
    }

    /** The exception for a failed call: pure, so tests can check the mapping without a runtime. */
    static NativeException failure(int status, String name, String description, String call, long requestedBytes) {
        String statusName = name != null && !name.isBlank() ? name : "hipError_t " + status;
        String message = call + ": " + statusName
                + (description != null && !description.isBlank() && !description.equals(statusName) ? " (" + description + ")" : "");
        if (status == hipErrorOutOfMemory()) {
            return new GpuMemoryError(API, statusName, requestedBytes, message);
        }
        return new HipException(statusName, status, message);
    }

    // ---- runtime and devices -----------------------------------------------------------------

    public void init() {
        check(hipInit(0), "hipInit");
    }

    /** The HIP runtime's version, e.g. 50221153 for 5.2. */
    public int runtimeVersion() {
        return OutParams.i32(out -> check(hipRuntimeGetVersion(out), "hipRuntimeGetVersion"));
    }

    /** Devices HIP sees; {@code hipErrorNoDevice} (thrown) where there are none. */
    public int deviceCount() {
        return OutParams.i32(out -> check(hipGetDeviceCount(out), "hipGetDeviceCount"));
    }

    public String deviceName(int device) {
        return OutParams.string(NAME_CAPACITY, buf -> check(hipDeviceGetName(buf, NAME_CAPACITY, device), "hipDeviceGetName"));
    }

    /** The device's PCI address, e.g. {@code 0000:03:00.0}. */
    public String pciBusId(int device) {
        return OutParams.string(64, buf -> check(hipDeviceGetPCIBusId(buf, 64, device), "hipDeviceGetPCIBusId"));
    }

    public long totalMemory(int device) {
        return OutParams.i64(out -> check(hipDeviceTotalMem(out, device), "hipDeviceTotalMem"));
    }

    /**
     * Makes {@code device} current for the calling thread. Skips the call when this thread's last
     * {@code setDevice} set the same device: every binding Spillway makes goes through here, so that
     * record is the thread's binding.
     */
    public void setDevice(int device) {
        int[] current = CURRENT.get();
        if (current[0] == device) {
            return;
        }
        current[0] = NONE;   // unknown until the call succeeds
        check(hipSetDevice(device), "hipSetDevice(" + device + ")");
        current[0] = device;
    }

    /** Free and total memory of the calling thread's current device. */
    @Override
    public DeviceMemory memoryInfo() {
        long[] freeTotal = OutParams.i64Pair((free, total) -> check(hipMemGetInfo(free, total), "hipMemGetInfo"));
        return new DeviceMemory(freeTotal[0], freeTotal[1]);
    }

    // ---- streams and memory ------------------------------------------------------------------

    public MemorySegment createStream() {
        return OutParams.address(out -> check(hipStreamCreate(out), "hipStreamCreate"));
    }

    public void destroyStream(MemorySegment stream) {
        check(hipStreamDestroy(stream), "hipStreamDestroy");
    }

    @Override
    public void synchronize(MemorySegment stream) {
        check(hipStreamSynchronize(stream), "hipStreamSynchronize");
    }

    @Override
    public long allocate(long bytes) {
        return OutParams.address(out -> check(hipMalloc(out, bytes), "hipMalloc(" + bytes + " bytes)", bytes)).address();
    }

    @Override
    public void free(long pointer) {
        check(hipFree(MemorySegment.ofAddress(pointer)), "hipFree");
    }

    /** Host to device on {@code stream}; synchronize the stream before reusing {@code src}. */
    @Override
    public void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        check(hipMemcpyHtoDAsync(MemorySegment.ofAddress(dst), src, bytes, stream), "hipMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    /** Device to host on {@code stream}; synchronize the stream before reading {@code dst}. */
    @Override
    public void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        check(hipMemcpyDtoHAsync(dst, MemorySegment.ofAddress(src), bytes, stream), "hipMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    // ---- modules and launches ----------------------------------------------------------------

    /**
     * Loads a code object, or a clang offload bundle of code objects for several gfx targets (the
     * runtime picks the device's); {@code hipErrorNoBinaryForGpu} when none matches.
     */
    public MemorySegment loadModule(MemorySegment image) {
        return OutParams.address(out -> check(hipModuleLoadData(out, image), "hipModuleLoadData"));
    }

    public void unloadModule(MemorySegment module) {
        check(hipModuleUnload(module), "hipModuleUnload");
    }

    @Override
    public MemorySegment function(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            return OutParams.address(out -> check(hipModuleGetFunction(out, module, cName), "hipModuleGetFunction(" + name + ")"));
        }
    }

    /** {@code hipModuleLaunchKernel} with {@code params} a {@code void**} of pointers to each argument's value. */
    @Override
    public void launch(MemorySegment function, String kernel, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                       MemorySegment params) {
        int status = hipModuleLaunchKernel(function, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes, stream,
                params, MemorySegment.NULL);
        if (status != hipSuccess()) {   // the message is built only for a failure
            check(status, KernelDriver.describeLaunch("hipModuleLaunchKernel", kernel, grid, block));
        }
    }
}
