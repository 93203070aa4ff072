package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.DeviceUnavailableException;
import dev.spillway.offload.Devices;
import dev.spillway.offload.cuda.CudaDevices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.opencl.OpenClTestSupport;
import dev.spillway.offload.schedule.LayerPlan;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code -ngl}, {@code --device} and {@code --device-memory} through {@link Model#load}. */
class ModelDeviceTest {
    static final Path STORIES = TestModels.stories260K();

    /** An API that fails the test if discovery or opening touches it. */
    record Untouchable(String api) implements DeviceApi {
        @Override
        public Listing list() {
            throw new AssertionError(api + " must not be asked");
        }

        @Override
        public DeviceRuntime open(int index) {
            throw new AssertionError(api + " must not be opened");
        }
    }

    /** An API without devices. */
    record Absent(String api, String reason) implements DeviceApi {
        @Override
        public Listing list() {
            return Listing.none(api, reason);
        }

        @Override
        public DeviceRuntime open(int index) {
            throw new AssertionError("no device to open");
        }
    }

    static String greedy(Model model) {
        try (Context ctx = model.newContext(ContextParams.defaults().withContextSize(128).withSampling(SamplingParams.greedy()))) {
            GenerationResult r = ctx.generate("Once upon a time", 64);
            return r.text();
        }
    }

    @Test
    void withoutGpuLayersNoDeviceApiIsTouched() throws Exception {
        Devices untouchable = new Devices(List.of(new Untouchable("cuda"), new Untouchable("hip"), new Untouchable("opencl")));
        ModelParams params = ModelParams.defaults().withThreads(1).withGpuLayers(0).withDevice("cuda:0");
        try (Model m = Model.load(STORIES, params, LlamaWeights.Progress.NONE, untouchable)) {
            assertEquals(1, m.backends().size());
            assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, greedy(m));
        }
    }

    @Test
    void anUnknownDeviceIsRejectedBeforeTheFileIsOpened() {
        ModelParams params = ModelParams.defaults().withGpuLayers(3).withDevice("nonsense");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Model.load(Path.of("does-not-exist.gguf"), params));
        assertTrue(e.getMessage().startsWith("invalid device 'nonsense'"), e.getMessage());
    }

    /**
     * {@code -ngl 3 --device cuda}: without an NVIDIA driver (the build machines) a clear error that
     * carries discovery's reason; with one, the last three layers on cuda:0.
     */
    @Test
    void cudaIsUsedWhereItExistsAndOtherwiseNamedAsMissing() throws Exception {
        ModelParams params = ModelParams.defaults().withThreads(1).withGpuLayers(3).withDevice("cuda");
        DeviceApi.Listing cuda = new CudaDevices().list();
        if (cuda.devices().isEmpty()) {
            DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> Model.load(STORIES, params));
            assertEquals("--device cuda: " + cuda.reason(), e.getMessage());
        } else {
            try (Model m = Model.load(STORIES, params)) {
                assertEquals("cuda:0", m.placement().layer(4).name());
                assertEquals("cpu", m.placement().layer(1).name());
                assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, greedy(m));
            }
        }
    }

    /** All layers, all layers plus output, and a split on OpenCL (PoCL) write llama.cpp's greedy story. */
    @ParameterizedTest(name = "-ngl {0} --device {1}")
    @CsvSource({"-1, opencl", "5, opencl:0", "2, opencl", "99, opencl"})
    void offloadedLayersGiveTheCpuText(int gpuLayers, String device) throws Exception {
        OpenClTestSupport.assumeOpenCl();
        ModelParams params = ModelParams.defaults().withThreads(1).withGpuLayers(gpuLayers).withDevice(device);
        DeviceBackend backend;
        try (Model m = Model.load(STORIES, params)) {
            assertEquals(2, m.backends().size());
            backend = assertInstanceOf(DeviceBackend.class, m.backends().get(1));
            assertEquals("opencl:0", backend.name());
            int onDevice = gpuLayers < 0 ? 5 : Math.min(gpuLayers, 5);
            assertEquals(onDevice, m.placement().layersOn(backend));
            boolean output = gpuLayers < 0 || gpuLayers > 5;   // llama.cpp's -ngl: the output head only past the layer count
            assertEquals(output ? backend : m.backends().get(0), m.placement().outputBackend());
            assertSame(backend, m.placement().layer(4), "the last layers go to the device");
            assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, greedy(m));
            assertTrue(backend.allocatedBytes() > 0);
        }
        assertThrows(IllegalStateException.class, () -> backend.allocateActivations(1, 1), "the model closed its device backend");
    }

    /** A budget too small for any layer: strict mode fails naming the device and the allocation; otherwise every layer stays on the CPU. */
    @Test
    void aDeviceMemoryLimitTooSmallForTheLayersIsAMemoryErrorOrAllCpu() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        ModelParams params = ModelParams.defaults().withThreads(1).withGpuLayers(-1).withDevice("opencl").withDeviceMemoryLimit(4096);
        BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> Model.load(STORIES, params.withStrict(true)));
        assertTrue(e.getMessage().startsWith("offload: asked for all 5 layers") && e.getMessage().contains("opencl:0")
                && e.getMessage().contains("--no-fallback"), e.getMessage());
        try (Model m = Model.load(STORIES, params)) {
            assertEquals(0, m.placement().layersOn(m.backends().get(1)));
            assertEquals(1, m.loadReport().failed().size());
            assertTrue(m.loadReport().line().contains("loaded with 0 layers"), m.loadReport().line());
            assertEquals(Stories260KTest.LLAMA_CPP_CONTINUATION, greedy(m));
        }
    }

    @Test
    void automaticChoiceWithoutDevicesRunsOnTheCpu() throws Exception {
        Devices none = new Devices(List.of(new Absent("cuda", "libcuda.so.1 not found"), new Absent("hip", "hipGetDeviceCount: hipErrorNoDevice")));
        try (Model m = Model.load(STORIES, ModelParams.defaults().withThreads(1).withGpuLayers(-1), LlamaWeights.Progress.NONE, none)) {
            assertEquals(1, m.backends().size());
            assertEquals(5, m.placement().layersOn(m.backends().get(0)));
        }
    }

    /** llama.cpp's -ngl: the last N layers; the output head only past the layer count (or -1). */
    @Test
    void offloadingTakesTheLastLayersAndTheOutputOnlyPastTheLayerCount() throws Exception {
        ModelParams hypothetical = ModelParams.defaults().withDevice(null).withDeviceMemoryLimit(1L << 40);
        Devices none = new Devices(List.of());
        LayerPlan two = Model.plan(STORIES, hypothetical.withGpuLayers(2), none);
        assertEquals(List.of("cpu", "cpu", "cpu", "device", "device"), two.layers().stream().map(LayerPlan.Layer::backend).toList());
        assertEquals("cpu", two.output().backend());
        assertEquals("cpu", Model.plan(STORIES, hypothetical.withGpuLayers(5), none).output().backend(),
                "-ngl = layer count: every layer, not the output head");
        for (int n : new int[] {-1, 6, 40}) {
            LayerPlan all = Model.plan(STORIES, hypothetical.withGpuLayers(n), none);
            assertEquals(5, all.layersOn("device"), "-ngl " + n);
            assertEquals("device", all.output().backend(), "-ngl " + n);
        }
    }
}
