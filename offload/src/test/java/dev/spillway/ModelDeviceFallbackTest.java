package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.bindings.NativeException;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.DeviceUnavailableException;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A device that is listed but refuses to open: the automatic choice falls back, a named one fails. */
class ModelDeviceFallbackTest {
    @TempDir
    Path dir;

    /** Lists one CUDA device whose open fails as an old driver would. */
    static final class RefusingCuda implements DeviceApi {
        int opened;

        @Override
        public String api() {
            return "cuda";
        }

        @Override
        public Listing list() {
            return Listing.of("cuda", List.of(new DeviceInfo("cuda", 0, "Test GPU", "test", 8L << 30, 8L << 30)));
        }

        @Override
        public DeviceRuntime open(int index) {
            opened++;
            throw new NativeException("cuda", "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "cuModuleLoadData: the provided PTX was compiled with an unsupported toolchain");
        }
    }

    @Test
    void automaticChoiceFallsBackToTheCpuWhenTheDeviceWillNotOpen() throws Exception {
        Path file = TestModels.write(TestModels.tiny(GgmlType.Q8_0), dir);
        RefusingCuda cuda = new RefusingCuda();
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1).withGpuLayers(-1),
                LlamaWeights.Progress.NONE, new Devices(List.of(cuda)))) {
            assertEquals(1, cuda.opened, "the device was tried");
            assertEquals(1, model.backends().size(), "only the CPU backend");
            assertTrue(model.placement().backends().stream().allMatch(b -> b.name().equals("cpu")), model.placement().table());
        }
    }

    @Test
    void aNamedDeviceThatWillNotOpenIsAnErrorSayingWhy() throws Exception {
        Path file = TestModels.write(TestModels.tiny(GgmlType.Q8_0), dir);
        var e = assertThrows(DeviceUnavailableException.class, () -> Model.load(file,
                ModelParams.defaults().withThreads(1).withGpuLayers(2).withDevice("cuda:0"),
                LlamaWeights.Progress.NONE, new Devices(List.of(new RefusingCuda()))));
        assertTrue(e.getMessage().startsWith("--device cuda:0: cuda:0 (Test GPU) could not be opened: "), e.getMessage());
        assertTrue(e.getMessage().contains("unsupported toolchain"), e.getMessage());
    }
}
