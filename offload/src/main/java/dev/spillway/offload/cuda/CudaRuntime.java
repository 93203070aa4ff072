package dev.spillway.offload.cuda;

import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.cuda.ComputeCapability;
import dev.spillway.bindings.cuda.Cuda;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.ModuleRuntime;
import dev.spillway.offload.device.Releases;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The CUDA driver API as a {@link dev.spillway.offload.device.DeviceRuntime}: the device's primary
 * context (retained, and bound to each calling thread), one stream, and one module loaded from the
 * precompiled code ({@link CudaCode} picks the cubin for the device's compute capability, else the
 * PTX that the driver JIT-compiles).
 */
public final class CudaRuntime extends ModuleRuntime {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final Cuda cuda;
    private final MemorySegment context;
    private final ComputeCapability capability;
    private final String image;

    private CudaRuntime(Cuda cuda, DeviceInfo info, MemorySegment context, MemorySegment stream, MemorySegment module,
                        ComputeCapability capability, String image, Releases releases) {
        super(info, cuda, stream, module, releases);
        this.cuda = cuda;
        this.context = context;
        this.capability = capability;
        this.image = image;
    }

    /**
     * Opens device {@code ordinal}: retains its primary context, creates a stream, loads the module.
     * Whatever was acquired is released again if a later step fails.
     *
     * @throws dev.spillway.bindings.NativeException (a {@code CudaException}) when the driver refuses
     * @throws IllegalStateException when the code has no image this device can run
     */
    public static CudaRuntime open(Cuda cuda, int ordinal, DeviceCode code) {
        Releases releases = new Releases();
        try {
            cuda.init();
            int device = cuda.device(ordinal);
            MemorySegment context = cuda.retainPrimaryContext(device);
            releases.add("primary context of cuda:" + ordinal, () -> {
                cuda.setCurrent(MemorySegment.NULL);
                cuda.releasePrimaryContext(device);
            });
            cuda.setCurrent(context);
            MemorySegment stream = cuda.createStream();
            releases.add("stream", () -> {
                cuda.setCurrent(context);
                cuda.destroyStream(stream);
            });
            ComputeCapability cc = cuda.computeCapability(device);
            CudaCode.Choice choice = CudaCode.select(code, cc).orElseThrow(() -> new IllegalStateException(
                    "cuda:" + ordinal + " (compute capability " + cc + ") cannot run Spillway's CUDA code: "
                            + CudaCode.coverage(code)));
            MemorySegment module = loadModule(cuda, code, choice);
            releases.add("module", () -> {
                cuda.setCurrent(context);
                cuda.unloadModule(module);
            });
            DeviceMemory memory = cuda.memoryInfo();
            DeviceInfo info = new DeviceInfo(Cuda.API, ordinal, cuda.deviceName(device), "NVIDIA", memory.totalBytes(), memory.freeBytes());
            LOG.log(Level.INFO, "cuda:{0}: {1}, compute capability {2}, module from {3}", ordinal, info.name(), cc, choice.description());
            return new CudaRuntime(cuda, info, context, stream, module, cc, choice.description(), releases);
        } catch (RuntimeException | Error e) {
            releases.closeAfter(e);
            throw e;
        }
    }

    private static MemorySegment loadModule(Cuda cuda, DeviceCode code, CudaCode.Choice choice) {
        byte[] bytes = code.read(choice.entry());
        try (Arena arena = Arena.ofConfined()) {
            // PTX is text the driver reads up to a NUL; a cubin is an ELF image whose header gives its size.
            MemorySegment image = arena.allocate(bytes.length + 1L, 16);
            MemorySegment.copy(bytes, 0, image, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
            image.set(java.lang.foreign.ValueLayout.JAVA_BYTE, bytes.length, (byte) 0);
            return cuda.loadModule(image);
        }
    }

    public ComputeCapability computeCapability() {
        return capability;
    }

    /** Which image the module came from, e.g. "cubin sm_90 (built for 9.0)". */
    public String image() {
        return image;
    }

    @Override
    protected void makeCurrent() {
        cuda.setCurrent(context);
    }
}
