package dev.spillway.api;

import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.posix.PageLock;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.memory.MemoryMonitor;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.model.Workspace;
import dev.spillway.engine.tokenizer.Tokenizer;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.DeviceUnavailableException;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.OffloadBackend;
import dev.spillway.offload.schedule.DeviceTarget;
import dev.spillway.offload.schedule.HostMemory;
import dev.spillway.offload.schedule.LayerPlan;
import dev.spillway.offload.schedule.LoadReport;
import dev.spillway.offload.schedule.OffloadException;
import dev.spillway.offload.schedule.Planner;
import dev.spillway.offload.schedule.Spill;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * <p>Loading goes through the layer scheduler:
 * <pre>
 *  GGUF file ──► Planner (estimate per device and host, from the file alone) ──► LayerPlan
 *      ──► load weights + reserve the planned contexts on the devices
 *            │ a device runs out (GpuMemoryError, or the monitor's refusal)
 *            └──► free the attempt, cap that device at what did fit, plan fewer layers, retry (down to the CPU)
 *      ──► Model (its LoadReport says what was tried)
 *  newContext: a device without room for the new context ──► Spill: layers move to the CPU, open contexts' KV rows too
 * </pre>
 *
 * <p>The model owns its backends, its memory monitor, its weights and the file mapping; closing it
 * closes any context still open, then frees all of them.
 */
public final class Model implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final Path path;
    private final ModelParams params;
    private final CpuBackend cpu;
    private final List<OffloadBackend> devices;   // owned
    private final LlamaModel llama;
    private final MemoryMonitor monitor;
    private final LoadReport report;
    private final long fileCopyBytes;           // counted in the host budget with --no-mmap
    private final boolean locked;
    private final List<Context> contexts = new ArrayList<>();
    private final List<String> spills = new ArrayList<>();
    private boolean closed;

    private Model(Path path, ModelParams params, CpuBackend cpu, List<OffloadBackend> devices, LlamaModel llama,
                  MemoryMonitor monitor, LoadReport report, long fileCopyBytes, boolean locked) {
        this.path = path;
        this.params = params;
        this.cpu = cpu;
        this.devices = List.copyOf(devices);
        this.llama = llama;
        this.monitor = monitor;
        this.report = report;
        this.fileCopyBytes = fileCopyBytes;
        this.locked = locked;
    }

    /** Loads a model with default progress reporting (none). */
    public static Model load(Path path, ModelParams params) throws IOException {
        return load(path, params, LlamaWeights.Progress.NONE);
    }

    /** Loads a model, choosing devices among CUDA, HIP and OpenCL ({@link Devices#standard()}). */
    public static Model load(Path path, ModelParams params, LlamaWeights.Progress progress) throws IOException {
        return load(path, params, progress, Devices.standard());
    }

    /**
     * Maps (or reads) the file, checks that it is a llama model Spillway can run, plans where its
     * layers go, and loads their weights, retrying with fewer device layers when a device runs out
     * (unless {@link ModelParams#strict()}). Nothing stays allocated when this throws.
     *
     * <p>Devices: {@code params.device()} names them ({@code opencl:0,opencl:1}); without a name, the
     * best GPU of the first API that has one (CUDA, HIP, then OpenCL; an OpenCL device of type CPU is
     * never chosen automatically). With {@code -ngl 0}, or {@code auto} and no GPU, no device is used.
     *
     * @throws java.nio.file.NoSuchFileException  if the file does not exist
     * @throws dev.spillway.engine.gguf.GgufFormatException if it is not a valid GGUF file
     * @throws dev.spillway.engine.model.InvalidModelException if it is not a model Spillway can run
     * @throws IllegalArgumentException if {@code params.device()} is malformed
     * @throws DeviceUnavailableException if a named device is not there (the message says why)
     * @throws OffloadException if a device ran out and {@code params.strict()} forbade a retry
     */
    public static Model load(Path path, ModelParams params, LlamaWeights.Progress progress, Devices devices) throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(devices, "devices");
        List<DeviceRequest> requests = DeviceRequest.parseList(params.device());
        MemoryMonitor monitor = new MemoryMonitor();
        MemoryAccount host = monitor.open("host", hostBudget(params));
        long fileCopy = 0;
        if (!params.mmap()) {
            // Refused before the copy is made, not after.
            long size = java.nio.file.Files.size(path);
            host.reserve(size, "model file " + path.getFileName() + " read into memory (--no-mmap)");
            fileCopy = size;
        }
        GgufFile file;
        try {
            file = GgufFile.open(path, new GgufFile.Options(params.mmap()));
        } catch (IOException | RuntimeException | Error e) {
            host.release(fileCopy);
            throw e;
        }
        List<Backend> opened = new ArrayList<>();
        try {
            LlamaConfig config = LlamaConfig.from(file);
            CpuBackend cpu = new CpuBackend(cpuOptions(params, host));
            opened.add(cpu);
            List<OffloadBackend> devs = params.gpuLayers() == 0 ? List.of() : openDevices(requests, params, devices, monitor);
            opened.addAll(devs);
            Planner planner = new Planner(file, config, params.mmap(), params.effectiveThreads(), cpu.sizing());
            Planner.Request request = request(params, config, host.usedBytes() - fileCopy, host.budgetBytes());
            List<DeviceTarget> targets = new ArrayList<>();
            for (OffloadBackend d : devs) {
                targets.add(target(d, params));
            }
            LayerPlan plan = planner.plan(request, targets);
            LOG.log(Level.INFO, "plan for {0}:\n{1}", path.getFileName(), plan.table());
            List<LoadReport.Attempt> failed = new ArrayList<>();
            while (true) {
                Placement placement = placement(plan, cpu, devs);
                LlamaModel llama = null;
                try {
                    llama = LlamaModel.load(file, config, placement, progress, opened);
                    Map<String, Long> measured = reserveContexts(llama, plan, devs);
                    LoadReport report = new LoadReport(failed, plan, measured);
                    LOG.log(failed.isEmpty() ? Level.INFO : Level.WARNING, report.line());
                    LOG.log(Level.INFO, "placement of {0}:\n{1}", path.getFileName(), placement.table());
                    boolean locked = params.mlock() && lock(file);
                    return new Model(path, params, cpu, devs, llama, monitor, report, fileCopy, locked);
                } catch (BackendMemoryException e) {
                    if (llama != null) {
                        llama.closeWeights();
                    }
                    int failedDevice = indexOf(devs, e.backend());
                    if (failedDevice < 0) {
                        throw e;   // the host ran out: fewer device layers would only make it worse
                    }
                    DeviceTarget t = targets.get(failedDevice);
                    long inUse = Math.max(0, e.inUseBytes());
                    long free = Math.max(0, Math.min(limit(t), t.freeBytes() >= 0 ? t.freeBytes() : Long.MAX_VALUE) - inUse);
                    LoadReport.Attempt attempt = new LoadReport.Attempt(plan, e.backend(),
                            LoadReport.describeAllocation(e.allocation()), e.requestedBytes(), inUse, free, e.getMessage());
                    failed.add(attempt);
                    String line = "offload: asked for " + LoadReport.asked(plan) + "; " + LoadReport.failure(attempt);
                    if (params.strict()) {
                        throw new OffloadException(attempt, line + "; not retrying (--no-fallback)", e);
                    }
                    if (plan.deviceUnits() == 0) {
                        throw e;
                    }
                    LOG.log(Level.INFO, line + "; planning fewer layers");
                    targets.set(failedDevice, t.cappedAt(inUse));
                    plan = planner.fallback(request, targets, plan, line);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                opened.get(i).close();
            }
            file.close();
            host.release(fileCopy);
            throw e;
        }
    }

    /**
     * Plans without loading: the {@link LayerPlan} {@link #load} would start from. Devices are found
     * as {@code load} finds them but not opened (free memory is what discovery reports); with no
     * device and a {@code deviceMemoryLimit}, the plan is for a hypothetical device of that size, named
     * {@code device}.
     */
    public static LayerPlan plan(Path path, ModelParams params, Devices devices) throws IOException {
        List<DeviceRequest> requests = DeviceRequest.parseList(params.device());
        try (GgufFile file = GgufFile.open(path, new GgufFile.Options(true))) {
            LlamaConfig config = LlamaConfig.from(file);
            List<DeviceTarget> targets = new ArrayList<>();
            if (params.gpuLayers() != 0) {
                for (Devices.Choice choice : chooseDevices(requests, params, devices, true)) {
                    DeviceInfo info = choice.device();
                    long budget = budget(info.totalBytes(), params);
                    targets.add(new DeviceTarget(info.id(), choice.api().sizing(), budget, info.freeBytes(), -1, params.marginFor(budget)));
                }
                if (targets.isEmpty() && params.deviceMemoryLimit() > 0) {
                    long budget = params.deviceMemoryLimit();
                    targets.add(new DeviceTarget("device", DeviceBackend.SIZING, budget, -1, -1, params.marginFor(budget)));
                }
            }
            Planner planner = new Planner(file, config, params.mmap(), params.effectiveThreads(),
                    cpuOptions(params, MemoryAccount.unlimited("host")).sizing());
            return planner.plan(request(params, config, 0, hostBudget(params)), targets);
        }
    }

    /** The CPU backend's options: {@code params}' threads, exactness and repacking, counted in {@code host}. */
    private static CpuBackend.Options cpuOptions(ModelParams params, MemoryAccount host) {
        return new CpuBackend.Options(params.effectiveThreads(), host, params.exact(), params.repack());
    }

    /** @param hostUsed host bytes in use besides what the plan counts itself (a --no-mmap copy is in the plan) */
    private static Planner.Request request(ModelParams params, LlamaConfig config, long hostUsed, long hostBudget) {
        ContextParams planned = params.plannedContext();
        Workspace.Shape shape = Context.shapeFor(config.contextLength(), planned);
        return new Planner.Request(params.gpuLayers(), shape, planned.contextSize() > 0, params.parallel(), params.tensorSplit(),
                hostBudget, hostUsed);
    }

    private static long hostBudget(ModelParams params) {
        return params.maxMemory() > 0 ? params.maxMemory() : HostMemory.availableBytes();
    }

    private static long budget(long deviceBytes, ModelParams params) {
        return params.deviceMemoryLimit() > 0 ? Math.min(deviceBytes, params.deviceMemoryLimit()) : deviceBytes;
    }

    private static long limit(DeviceTarget t) {
        return MemoryAccount.limitFor(t.budgetBytes());
    }

    private static DeviceTarget target(OffloadBackend d, ModelParams params) {
        DeviceInfo info = d.device();
        return new DeviceTarget(d.name(), d.sizing(), d.budget(), info.freeBytes(), d.runtimeBytes(),
                params.marginFor(d.budget()));
    }

    private static int indexOf(List<OffloadBackend> devs, String name) {
        for (int i = 0; i < devs.size(); i++) {
            if (devs.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** The backends of a plan, by the ids it names. */
    private static Placement placement(LayerPlan plan, CpuBackend cpu, List<OffloadBackend> devs) {
        List<Backend> layers = new ArrayList<>();
        for (LayerPlan.Layer l : plan.layers()) {
            layers.add(backendNamed(l.backend(), cpu, devs));
        }
        return new Placement(layers, backendNamed(plan.output().backend(), cpu, devs));
    }

    private static Backend backendNamed(String id, CpuBackend cpu, List<OffloadBackend> devs) {
        if (id.equals(cpu.name())) {
            return cpu;
        }
        return devs.get(indexOf(devs, id));
    }

    /**
     * Allocates the device share of the plan's contexts, as a context would, and frees it again: a
     * context that does not fit fails the attempt here, not later. Returns each device's bytes with
     * them in place.
     */
    private static Map<String, Long> reserveContexts(LlamaModel llama, LayerPlan plan, List<OffloadBackend> devs) {
        Map<String, Long> measured = new LinkedHashMap<>();
        List<Workspace> reserved = new ArrayList<>();
        try {
            for (int i = 0; i < plan.parallel() && !devs.isEmpty(); i++) {
                reserved.add(new Workspace(llama.config(), llama.placement(), plan.context(), b -> b instanceof OffloadBackend));
            }
            for (OffloadBackend d : devs) {
                measured.put(d.name(), d.allocatedBytes());
            }
        } finally {
            for (Workspace w : reserved) {
                w.close();
            }
        }
        return measured;
    }

    /** Opens the requested devices; empty when the request is automatic and no GPU is there. */
    private static List<OffloadBackend> openDevices(List<DeviceRequest> requests, ModelParams params, Devices devices,
                                                   MemoryMonitor monitor) {
        List<OffloadBackend> out = new ArrayList<>();
        try {
            for (Devices.Choice choice : chooseDevices(requests, params, devices, false)) {
                DeviceInfo info = choice.device();
                DeviceBackend.Options options = DeviceBackend.Options.defaults().withMemoryLimit(params.deviceMemoryLimit())
                        .withMemory(monitor.open(info.id(), budget(info.totalBytes(), params)));
                try {
                    out.add(choice.api().openBackend(info, options));
                } catch (NativeException | IllegalStateException e) {
                    monitor.close(info.id());
                    String why = info.id() + " (" + info.name() + ") could not be opened: " + e.getMessage();
                    if (requests.get(0).automatic()) {
                        LOG.log(Level.WARNING, "automatic device choice: {0}; running every layer on the CPU "
                                + "(name a device with --device, or use -ngl 0)", why);
                        continue;
                    }
                    throw new DeviceUnavailableException(info.id(), why, e);
                }
            }
            return out;
        } catch (RuntimeException | Error e) {
            for (OffloadBackend d : out) {
                d.close();
            }
            throw e;
        }
    }

    /** The devices the requests name (automatic: the best GPU, or none, logged only when layers were asked for explicitly). */
    private static List<Devices.Choice> chooseDevices(List<DeviceRequest> requests, ModelParams params, Devices devices, boolean quiet) {
        List<Devices.Choice> out = new ArrayList<>();
        for (DeviceRequest r : requests) {
            List<String> reasons = new ArrayList<>();
            Optional<Devices.Choice> choice = devices.choose(r, reasons);
            if (choice.isEmpty()) {
                if (params.gpuLayers() != ModelParams.AUTO && !quiet) {
                    LOG.log(Level.WARNING, "{0} GPU layer(s) requested, but there is no device ({1}): running every layer on the CPU",
                            params.gpuLayers() < 0 ? "all" : params.gpuLayers(), String.join("; ", reasons));
                }
                continue;
            }
            if (out.stream().anyMatch(c -> c.device().id().equals(choice.get().device().id()))) {
                throw new IllegalArgumentException("--device names " + choice.get().device().id() + " twice");
            }
            out.add(choice.get());
        }
        return out;
    }

    private static boolean lock(GgufFile file) {
        Optional<String> refused = PageLock.lock(file.mapping());
        refused.ifPresent(reason -> LOG.log(Level.WARNING, "--mlock: " + reason + "; continuing without locking"));
        return refused.isEmpty();
    }

    /**
     * Creates a context; the model keeps track of it and closes it if it is still open at {@link #close()}.
     *
     * <p>Its memory is checked against each budget before anything is allocated. When a device has
     * no room for it, layers spill from that device to the CPU until it fits (open contexts take
     * their KV rows along and generate on unchanged); with {@link ModelParams#strict()} that is an error.
     *
     * @throws MemoryLimitException when the host cannot hold it (the message suggests a smaller
     *         {@code -c}), or a device cannot and spilling is off or cannot help
     */
    public synchronized Context newContext(ContextParams params) {
        ensureOpen();
        int planned = report.loaded().context().contextSize();
        if (params.contextSize() == 0 && planned < Context.shapeFor(llama.config().contextLength(), params).contextSize()) {
            params = params.withContextSize(planned);   // the size the plan reserved: -c, or what auto shrank it to
        }
        Workspace.Shape shape = Context.shapeFor(llama.config().contextLength(), params);
        Spill spill = new Spill(llama, cpu, devices, this.params.strict());
        for (int round = 0; ; round++) {
            String moved = spill.makeRoomFor(shape);
            if (moved != null) {
                spills.add(moved);
            }
            Context[] holder = new Context[1];
            try {
                Context ctx = new Context(llama, params, () -> forget(holder[0]));
                holder[0] = ctx;
                contexts.add(ctx);
                return ctx;
            } catch (BackendMemoryException e) {
                String after = spill.afterFailure(e, round);
                if (after == null) {
                    throw e;
                }
                spills.add(after);
            }
        }
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

    /** Where each layer runs now (after any spill). */
    public Placement placement() {
        return llama.placement();
    }

    /** The plan the model loaded with. */
    public LayerPlan plan() {
        return report.loaded();
    }

    /** What the loader tried, and what each device allocated beside its estimate. */
    public LoadReport loadReport() {
        return report;
    }

    /** One line per spill since the load, e.g. {@code spill: ... moved layers 0-1 to the cpu}. */
    public synchronized List<String> spills() {
        return List.copyOf(spills);
    }

    /** Tells {@code listener} when a budget (a device, the host) passes its warning line. */
    public void addMemoryListener(MemoryWarning.Listener listener) {
        monitor.addListener(listener);
    }

    public void removeMemoryListener(MemoryWarning.Listener listener) {
        monitor.removeListener(listener);
    }

    /** The budgets, one per device and the host. */
    public List<MemoryAccount> budgets() {
        return monitor.accounts();
    }

    /** Per device and for the host: weights, every open context's KV caches and activations, other use, budget, free. */
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(llama.memoryPools(null, true), llama.modelBytes(), -1, -1);
    }

    /** Whether the model's pages are locked in RAM. */
    public boolean locked() {
        return locked;
    }

    /** The open GGUF file, for metadata. */
    public GgufFile file() {
        return llama.file();
    }

    /** The CPU backend, then the device backends. */
    public List<Backend> backends() {
        List<Backend> all = new ArrayList<>();
        all.add(cpu);
        all.addAll(devices);
        return all;
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
            for (int i = devices.size() - 1; i >= 0; i--) {
                devices.get(i).close();
            }
            cpu.close();
            if (fileCopyBytes > 0) {
                cpu.memory().release(fileCopyBytes);
            }
        }
    }
}
