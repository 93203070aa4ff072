package dev.spillway.offload.hip;

import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.hip.Hip;
import dev.spillway.bindings.hip.HipException;
import dev.spillway.offload.device.DeviceCode;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.ModuleRuntime;
import dev.spillway.offload.device.Releases;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * HIP (ROCm) as a {@link dev.spillway.offload.device.DeviceRuntime}: the device set current on each
 * calling thread, one stream, and one module loaded from the precompiled clang offload bundle, in
 * which the runtime picks the code object for the device's gfx target.
 */
public final class HipRuntime extends ModuleRuntime {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final Hip hip;
    private final int ordinal;

    private HipRuntime(Hip hip, int ordinal, DeviceInfo info, MemorySegment stream, MemorySegment module, Releases releases) {
        super(info, hip, stream, module, releases);
        this.hip = hip;
        this.ordinal = ordinal;
    }

    /**
     * Opens device {@code ordinal}: sets it current, creates a stream, loads the module. Whatever was
     * acquired is released again if a later step fails.
     *
     * @throws dev.spillway.bindings.NativeException (a {@code HipException}) when the runtime refuses,
     *         e.g. {@code hipErrorNoBinaryForGpu} for a gfx target the bundle lacks (the message lists those it has)
     */
    public static HipRuntime open(Hip hip, int ordinal, DeviceCode code) {
        Releases releases = new Releases();
        try {
            hip.setDevice(ordinal);
            MemorySegment stream = hip.createStream();
            releases.add("stream", () -> {
                hip.setDevice(ordinal);
                hip.destroyStream(stream);
            });
            MemorySegment module = loadModule(hip, code);
            releases.add("module", () -> {
                hip.setDevice(ordinal);
                hip.unloadModule(module);
            });
            DeviceMemory memory = hip.memoryInfo();
            DeviceInfo info = new DeviceInfo(Hip.API, ordinal, hip.deviceName(ordinal), "AMD", memory.totalBytes(), memory.freeBytes());
            LOG.log(Level.INFO, "hip:{0}: {1}, module from the code-object bundle for {2}", ordinal, info.name(), targets(code));
            return new HipRuntime(hip, ordinal, info, stream, module, releases);
        } catch (RuntimeException | Error e) {
            releases.closeAfter(e);
            throw e;
        }
    }

    private static MemorySegment loadModule(Hip hip, DeviceCode code) {
        DeviceCode.Entry bundle = code.entries("bundle").stream().findFirst().orElseThrow(() ->
                new IllegalStateException(code.folder() + "manifest.txt lists no code-object bundle"));
        byte[] bytes = code.read(bundle);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment image = arena.allocate(bytes.length, 4096);
            MemorySegment.copy(bytes, 0, image, ValueLayout.JAVA_BYTE, 0, bytes.length);
            return hip.loadModule(image);
        } catch (HipException e) {
            throw new HipException(e.status(), e.code(), e.getMessage() + "; Spillway's HIP code objects are built for "
                    + targets(code) + " (" + code.compiler() + ")");
        }
    }

    private static String targets(DeviceCode code) {
        return String.join(", ", code.entries("bundle").stream().map(DeviceCode.Entry::target).toList());
    }

    @Override
    protected void makeCurrent() {
        hip.setDevice(ordinal);
    }
}
