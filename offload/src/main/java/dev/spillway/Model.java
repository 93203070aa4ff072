package dev.spillway;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.ModelParams;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.posix.PageLock;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.tokenizer.Tokenizer;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.DeviceUnavailableException;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A GGUF model loaded for inference: the library's entry point.
 *
 * <pre>{@code
 * try (Model model = Model.load(path, ModelParams.defaults());
 *      Context ctx = model.newContext(ContextParams.defaults())) {
 *     System.out.println(ctx.generate("Once upon a time", 64).text());
 * }
 * }</pre>
 *
 * <p>The model owns its backends, its weights and the file mapping; closing it closes any context
 * still open, then frees all of them.
 */
public final class Model implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final Path path;
    private final ModelParams params;
    private final List<Backend> backends;   // owned; the CPU backend first, then the device backend if any
    private final LlamaModel llama;
    private final boolean locked;
    private final List<Context> contexts = new ArrayList<>();
    private boolean closed;

    private Model(Path path, ModelParams params, List<Backend> backends, LlamaModel llama, boolean locked) {
        this.path = path;
        this.params = params;
        this.backends = List.copyOf(backends);
        this.llama = llama;
        this.locked = locked;
    }

    /** Loads a model with default progress reporting (none). */
    public static Model load(Path path, ModelParams params) throws IOException {
        return load(path, params, LlamaWeights.Progress.NONE);
    }

    /** Loads a model, choosing the device for offloaded layers among CUDA, HIP and OpenCL ({@link Devices#standard()}). */
    public static Model load(Path path, ModelParams params, LlamaWeights.Progress progress) throws IOException {
        return load(path, params, progress, Devices.standard());
    }

    /**
     * Maps (or reads) the file, checks that it is a llama model Spillway can run, places its layers
     * and loads their weights. Nothing stays allocated when this throws.
     *
     * <p>With {@code params.gpuLayers() != 0} the last that many layers (all for -1, and then the
     * output head too) go to the device {@code params.device()} names, found through {@code devices};
     * without a named device, the best one of the first API that has one (CUDA, HIP, then OpenCL), or
     * the CPU with a warning when there is none. With 0 GPU layers no device API is touched.
     *
     * @throws java.nio.file.NoSuchFileException  if the file does not exist
     * @throws dev.spillway.engine.gguf.GgufFormatException if it is not a valid GGUF file
     * @throws dev.spillway.engine.model.InvalidModelException if it is not a model Spillway can run
     * @throws IllegalArgumentException if {@code params.device()} is not {@code opencl|cuda|hip[:INDEX]}
     * @throws DeviceUnavailableException if the named device is not there (the message says why)
     */
    public static Model load(Path path, ModelParams params, LlamaWeights.Progress progress, Devices devices) throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(devices, "devices");
        DeviceRequest request = DeviceRequest.parse(params.device());
        GgufFile file = GgufFile.open(path, new GgufFile.Options(params.mmap()));
        CpuBackend cpu = null;
        DeviceBackend device = null;
        try {
            LlamaConfig config = LlamaConfig.from(file);
            cpu = new CpuBackend(new CpuBackend.Options(params.effectiveThreads()));
            if (params.gpuLayers() != 0) {
                device = openDevice(request, params, devices);
            }
            Placement placement = device == null
                    ? Placement.allOn(cpu, config.layerCount())
                    : offloadLast(cpu, device, config.layerCount(), params.gpuLayers());
            LOG.log(Level.INFO, "placement of {0}:\n{1}", path.getFileName(), placement.table());
            boolean locked = params.mlock() && lock(file);
            LlamaModel llama = LlamaModel.load(file, config, placement, progress);
            List<Backend> backends = device == null ? List.of(cpu) : List.of(cpu, device);
            return new Model(path, params, backends, llama, locked);
        } catch (IOException | RuntimeException | Error e) {
            if (device != null) {
                device.close();
            }
            if (cpu != null) {
                cpu.close();
            }
            file.close();
            throw e;
        }
    }

    /**
     * Opens the device backend for offloaded layers, or returns null (with a warning naming each
     * API's reason) when the request is automatic and no API has a device.
     */
    private static DeviceBackend openDevice(DeviceRequest request, ModelParams params, Devices devices) {
        List<String> reasons = new ArrayList<>();
        Optional<Devices.Choice> choice = devices.choose(request, reasons);
        if (choice.isEmpty()) {
            LOG.log(Level.WARNING, "{0} GPU layer(s) requested, but there is no device ({1}): running every layer on the CPU",
                    params.gpuLayers() < 0 ? "all" : params.gpuLayers(), String.join("; ", reasons));
            return null;
        }
        DeviceInfo info = choice.get().device();
        DeviceRuntime runtime;
        try {
            runtime = choice.get().api().open(info.index());
        } catch (NativeException | IllegalStateException e) {
            String why = info.id() + " (" + info.name() + ") could not be opened: " + e.getMessage();
            if (request.automatic()) {
                // Nobody asked for this device by name: fall back to the CPU rather than fail the load.
                LOG.log(Level.WARNING, "automatic device choice: {0}; running every layer on the CPU "
                        + "(name a device with --device, or use -ngl 0)", why);
                return null;
            }
            throw new DeviceUnavailableException(request.toString(), why, e);
        }
        try {
            return new DeviceBackend(runtime, DeviceBackend.Options.defaults().withMemoryLimit(params.deviceMemoryLimit()));
        } catch (RuntimeException | Error e) {
            runtime.close();
            throw e;
        }
    }

    /**
     * The last {@code gpuLayers} layers on {@code device}, the rest on {@code cpu}; -1 or at least
     * {@code layerCount} puts every layer and also the output head on the device.
     */
    static Placement offloadLast(Backend cpu, Backend device, int layerCount, int gpuLayers) {
        boolean all = gpuLayers < 0 || gpuLayers >= layerCount;
        int onDevice = all ? layerCount : gpuLayers;
        List<Backend> layers = new ArrayList<>(layerCount);
        for (int i = 0; i < layerCount; i++) {
            layers.add(i < layerCount - onDevice ? cpu : device);
        }
        return new Placement(layers, all ? device : cpu);
    }

    private static boolean lock(GgufFile file) {
        Optional<String> refused = PageLock.lock(file.mapping());
        refused.ifPresent(reason -> LOG.log(Level.WARNING, "--mlock: " + reason + "; continuing without locking"));
        return refused.isEmpty();
    }

    /** Creates a context; the model keeps track of it and closes it if it is still open at {@link #close()}. */
    public synchronized Context newContext(ContextParams params) {
        ensureOpen();
        Context[] holder = new Context[1];
        Context ctx = new Context(llama, params, () -> forget(holder[0]));
        holder[0] = ctx;
        contexts.add(ctx);
        return ctx;
    }

    private synchronized void forget(Context ctx) {
        contexts.remove(ctx);
    }

    public Path path() {
        return path;
    }

    public ModelParams params() {
        return params;
    }

    public LlamaConfig config() {
        return llama.config();
    }

    public Tokenizer tokenizer() {
        return llama.tokenizer();
    }

    public Placement placement() {
        return llama.placement();
    }

    /** Whether the model's pages are locked in RAM. */
    public boolean locked() {
        return locked;
    }

    /** The open GGUF file, for metadata. */
    public GgufFile file() {
        return llama.file();
    }

    public List<Backend> backends() {
        return backends;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("model is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Context c : List.copyOf(contexts)) {
            c.close();
        }
        try {
            if (locked) {
                PageLock.unlock(llama.file().mapping());
            }
            llama.close();
        } finally {
            for (Backend b : backends) {
                b.close();
            }
        }
    }
}
