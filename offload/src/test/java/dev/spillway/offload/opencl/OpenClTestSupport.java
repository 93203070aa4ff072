package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.offload.device.DeviceBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Skips a test when this machine has no OpenCL (CI installs PoCL, so there it runs), and makes test data. */
public final class OpenClTestSupport {
    private OpenClTestSupport() {
    }

    /** Skips the calling test, with the reason, unless an OpenCL library and at least one device are present. */
    public static void assumeOpenCl() {
        Optional<String> missing = OpenClBackend.unavailableReason();
        assumeTrue(missing.isEmpty(), () -> "skipping: OpenCL is not available (" + missing.orElse("") + "); "
                + "ci/install-deps installs pocl-opencl-icd");
        assumeTrue(!OpenClBackend.devices().isEmpty(), "skipping: the OpenCL loader found no platform with a device; "
                + "ci/install-deps installs pocl-opencl-icd");
    }

    /** A backend on OpenCL device 0 (PoCL's CPU device here and in CI). */
    public static DeviceBackend backend(DeviceBackend.Options options) {
        assumeOpenCl();
        return OpenClBackend.create(0, options);
    }

    public static DeviceBackend backend() {
        return backend(DeviceBackend.Options.defaults());
    }

    /**
     * Loads {@code file} with the layers on {@code layers.apply(layerCount)} and the output head on
     * {@code output}, as the engine's loader does (the caller owns the backends).
     */
    public static LlamaModel load(Path file, java.util.function.IntFunction<List<Backend>> layers, Backend output)
            throws IOException {
        GgufFile f = GgufFile.open(file);
        try {
            LlamaConfig config = LlamaConfig.from(f);
            return LlamaModel.load(f, config, new Placement(layers.apply(config.layerCount()), output),
                    LlamaWeights.Progress.NONE);
        } catch (IOException | RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    /** Every layer and the output head on {@code b}. */
    public static LlamaModel loadAllOn(Path file, Backend b) throws IOException {
        return load(file, n -> java.util.Collections.nCopies(n, b), b);
    }
}
