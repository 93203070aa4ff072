package dev.spillway.offload.schedule;

import dev.spillway.api.MemoryInfo;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.Sizing;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Workspace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides a {@link LayerPlan} from the GGUF file alone, before anything is allocated.
 *
 * <p>Offload order follows llama.cpp's {@code -ngl}: N device units are the last N layers; the
 * output head is the unit after the last layer, so it goes to a device only when every layer does
 * ({@code N = layers + 1}, or -1). Offloaded layers are split over the devices in order, in
 * proportion to {@code -ts} or to each device's available memory; the output head goes with the last
 * device. Every figure comes from the backends' {@link Sizing}s and the same tensor and buffer lists
 * the loader and {@link Workspace} allocate from.
 */
public final class Planner {
    /** {@code auto} shrinks a context it chose itself, halving it, down to this many tokens at least. */
    public static final int MIN_AUTO_CONTEXT = 1024;

    private final LlamaConfig config;
    private final long[] deviceLayerWeights;   // per layer, as a device holds it
    private final long deviceOutputWeights;
    private final long[] cpuLayerWeights;      // per layer, what the CPU allocates for it (packed copies; views cost 0)
    private final long cpuOutputWeights;
    private final Sizing cpu;
    private final long fileBytes;
    private final long copyBytes;   // what --no-mmap reads into memory: the whole file
    private final boolean mmap;
    private final int threads;

    /**
     * @param mmap      whether the CPU's weights are views of a mapping (else a copy on the heap)
     * @param threads   CPU threads (the CPU's scratch is per thread)
     * @param cpuSizing what the CPU backend allocates ({@code CpuBackend.Options.sizing()}: with
     *                  repacking, its packed copies of CPU weights)
     */
    public Planner(GgufFile file, LlamaConfig config, boolean mmap, int threads, Sizing cpuSizing) throws IOException {
        this.config = config;
        this.deviceLayerWeights = new long[config.layerCount()];
        Sizing device = dev.spillway.offload.device.DeviceBackend.SIZING;
        for (int i = 0; i < deviceLayerWeights.length; i++) {
            deviceLayerWeights[i] = LlamaWeights.loadedBytes(device, file, LlamaWeights.layerTensors(config, i));
        }
        this.deviceOutputWeights = LlamaWeights.loadedBytes(device, file, LlamaWeights.outputTensors(config));
        this.cpu = cpuSizing;
        this.cpuLayerWeights = new long[config.layerCount()];
        for (int i = 0; i < cpuLayerWeights.length; i++) {
            cpuLayerWeights[i] = LlamaWeights.loadedBytes(cpuSizing, file, LlamaWeights.layerTensors(config, i));
        }
        this.cpuOutputWeights = LlamaWeights.loadedBytes(cpuSizing, file, LlamaWeights.outputTensors(config));
        this.fileBytes = LlamaWeights.fileBytes(file);
        this.copyBytes = file.fileSize();
        this.mmap = mmap;
        this.threads = threads;
    }

    /**
     * What to plan.
     *
     * @param gpuLayers         {@code -ngl}: N, {@link ModelParams#ALL_LAYERS} or {@link ModelParams#AUTO}
     * @param context           the context shape to reserve for
     * @param contextFromUser   whether the user chose the context size (then auto never shrinks it)
     * @param parallel          contexts of that shape
     * @param tensorSplit       device shares ({@code -ts}); empty = by available memory
     * @param hostBudgetBytes   the host budget
     * @param hostUsedBytes     host bytes in use before the model's contexts (a --no-mmap copy counts in the plan)
     */
    public record Request(int gpuLayers, Workspace.Shape context, boolean contextFromUser, int parallel,
                          List<Double> tensorSplit, long hostBudgetBytes, long hostUsedBytes) {
        public Request {
            tensorSplit = List.copyOf(tensorSplit);
        }
    }

    /**
     * The plan for {@code request} on {@code devices} (none: everything on the CPU).
     *
     * @throws IllegalArgumentException if {@code -ts} names more devices than there are, or gives them all 0
     */
    public LayerPlan plan(Request request, List<DeviceTarget> devices) {
        if (!devices.isEmpty() && !request.tensorSplit().isEmpty()) {
            if (request.tensorSplit().size() > devices.size()) {
                throw new IllegalArgumentException("-ts/--tensor-split has " + request.tensorSplit().size() + " shares for "
                        + devices.size() + " device(s): " + devices.stream().map(DeviceTarget::id).toList());
            }
            if (request.tensorSplit().stream().mapToDouble(Double::doubleValue).sum() <= 0) {
                throw new IllegalArgumentException("-ts/--tensor-split gives every device a share of 0");
            }
        }
        int units = config.layerCount() + 1;
        if (devices.isEmpty()) {
            return build(request, devices, 0, request.context(), List.of(request.gpuLayers() == 0 ? "-ngl 0: every layer on the cpu"
                    : "no device: every layer on the cpu"));
        }
        if (request.gpuLayers() != ModelParams.AUTO) {
            int n = request.gpuLayers() == ModelParams.ALL_LAYERS ? units : Math.min(request.gpuLayers(), units);
            LayerPlan p = build(request, devices, n, request.context(), List.of());
            String asked = request.gpuLayers() == ModelParams.ALL_LAYERS || request.gpuLayers() >= units
                    ? "all " + config.layerCount() + " layers and the output head" : n + " layer(s)";
            List<String> reasons = new ArrayList<>();
            reasons.add("-ngl " + (request.gpuLayers() == ModelParams.ALL_LAYERS ? "-1" : request.gpuLayers()) + ": " + asked
                    + " as asked" + (p.fits() ? "" : "; the estimate does NOT fit (" + overBy(p) + "): the loader will fall back"));
            return withReasons(p, reasons);
        }
        // auto: the most units that fit, counting down; shrink a context auto chose if that lets all fit.
        List<String> reasons = new ArrayList<>();
        LayerPlan best = largestFitting(request, devices, units, request.context());
        if (best.deviceUnits() < units && !request.contextFromUser()) {
            Workspace.Shape shape = request.context();
            while (shape.contextSize() / 2 >= MIN_AUTO_CONTEXT) {
                shape = new Workspace.Shape(shape.contextSize() / 2, Math.min(shape.batchSize(), shape.contextSize() / 2),
                        shape.keyType(), shape.valueType(), shape.allLogits());
                LayerPlan p = build(request, devices, units, shape, List.of());
                if (p.devices().stream().allMatch(LayerPlan.DevicePlan::fits)) {
                    reasons.add("auto: context shrunk from " + request.context().contextSize() + " to " + shape.contextSize()
                            + " tokens so that every layer fits (set -c to keep a size)");
                    best = p;
                    break;
                }
            }
        }
        reasons.add(autoReason(best, request, devices, units));
        return withReasons(best, reasons);
    }

    /**
     * The largest plan below {@code fewerThan} device units whose every device fits: the loader's
     * next attempt after a device ran out, with that device {@link DeviceTarget#cappedAt capped}.
     */
    public LayerPlan fallback(Request request, List<DeviceTarget> devices, LayerPlan failed, String why) {
        LayerPlan p = largestFitting(request, devices, Math.max(0, failed.deviceUnits() - 1), failed.context());
        return withReasons(p, List.of(why, "retry: " + p.summary()));
    }

    private LayerPlan largestFitting(Request request, List<DeviceTarget> devices, int maxUnits, Workspace.Shape shape) {
        for (int n = maxUnits; n > 0; n--) {
            LayerPlan p = build(request, devices, n, shape, List.of());
            if (p.devices().stream().allMatch(LayerPlan.DevicePlan::fits)) {
                return p;
            }
        }
        return build(request, devices, 0, shape, List.of());
    }

    private String autoReason(LayerPlan best, Request request, List<DeviceTarget> devices, int units) {
        if (best.deviceUnits() == units) {
            return "auto: every layer and the output head fit";
        }
        LayerPlan next = build(request, devices, best.deviceUnits() + 1, best.context(), List.of());
        return "auto: " + best.deviceUnits() + " unit(s) fit; " + (best.deviceUnits() + 1) + " would not (" + overBy(next) + ")";
    }

    private static String overBy(LayerPlan p) {
        List<String> parts = new ArrayList<>();
        for (LayerPlan.DevicePlan d : p.devices()) {
            if (!d.fits()) {
                parts.add(d.id() + " needs " + MemoryInfo.human(d.estimatedBytes()) + ", " + MemoryInfo.human(d.availableBytes())
                        + " available");
            }
        }
        return String.join("; ", parts);
    }

    private static LayerPlan withReasons(LayerPlan p, List<String> reasons) {
        return new LayerPlan(p.request(), p.deviceUnits(), p.layers(), p.output(), p.devices(), p.host(), p.context(),
                p.parallel(), reasons);
    }

    /** Which device each of the {@code k} offloaded layers goes to: contiguous runs, in proportion to the shares. */
    static int[] split(int k, double[] shares) {
        double total = 0;
        for (double s : shares) {
            total += s;
        }
        int[] owner = new int[k];
        double cumulative = 0;
        int from = 0;
        for (int d = 0; d < shares.length; d++) {
            cumulative += shares[d];
            int to = d == shares.length - 1 ? k : (int) Math.round(k * cumulative / total);
            for (int j = from; j < to; j++) {
                owner[j] = d;
            }
            from = Math.max(from, to);
        }
        return owner;
    }

    /** The plan with {@code n} device units. */
    LayerPlan build(Request request, List<DeviceTarget> devices, int n, Workspace.Shape shape, List<String> reasons) {
        int layerCount = config.layerCount();
        int onDevices = Math.min(n, layerCount);
        boolean outputOnDevice = n > layerCount && !devices.isEmpty();
        double[] shares = new double[devices.size()];
        for (int d = 0; d < shares.length; d++) {
            shares[d] = request.tensorSplit().isEmpty() ? Math.max(1, devices.get(d).availableBytes())
                    : d < request.tensorSplit().size() ? request.tensorSplit().get(d) : 0;
        }
        int[] owner = devices.isEmpty() ? new int[0] : split(onDevices, shares);
        int lastDevice = 0;
        for (int d = 0; d < shares.length; d++) {
            lastDevice = shares[d] > 0 ? d : lastDevice;
        }
        long kvPerLayer = (long) request.parallel() * cpu.kvBytes(shape.contextSize(), config.kvDim(), shape.keyType(), shape.valueType());
        List<LayerPlan.Layer> layers = new ArrayList<>();
        int[] count = new int[devices.size()];
        for (int i = 0; i < layerCount; i++) {
            int j = i - (layerCount - onDevices);
            if (j >= 0) {
                DeviceTarget d = devices.get(owner[j]);
                count[owner[j]]++;
                layers.add(new LayerPlan.Layer(i, d.id(), deviceLayerWeights[i], kvPerLayer));
            } else {
                // views cost nothing (a --no-mmap copy is the host's, below); packed copies do
                layers.add(new LayerPlan.Layer(i, "cpu", cpuLayerWeights[i], kvPerLayer));
            }
        }
        String outputBackend = outputOnDevice ? devices.get(lastDevice).id() : "cpu";
        LayerPlan.Layer output = new LayerPlan.Layer(-1, outputBackend, outputOnDevice ? deviceOutputWeights : cpuOutputWeights, 0);
        List<LayerPlan.DevicePlan> plans = new ArrayList<>();
        for (int d = 0; d < devices.size(); d++) {
            DeviceTarget t = devices.get(d);
            boolean out = outputOnDevice && d == lastDevice;
            long weights = (out ? deviceOutputWeights : 0);
            for (LayerPlan.Layer l : layers) {
                weights += l.backend().equals(t.id()) ? l.weightBytes() : 0;
            }
            Workspace.Estimate ws = Workspace.estimate(t.sizing(), config, shape, count[d], out);
            long scratch = count[d] > 0 ? t.sizing().scratchBytes(Workspace.scratchShape(config, shape, 1)) : 0;
            Estimate e = new Estimate(weights, request.parallel() * ws.kvCacheBytes(), request.parallel() * ws.activationBytes(), scratch);
            // The usual rough figure: the offloaded share of the file plus the KV cache.
            double share = (double) (count[d] + (out ? 1 : 0)) / (layerCount + 1);
            long rough = (long) (share * fileBytes) + e.kvCacheBytes();
            plans.add(new LayerPlan.DevicePlan(t.id(), count[d], out, e, t.runtimeBytes(), rough, t.budgetBytes(), t.freeBytes(),
                    t.marginBytes(), t.availableBytes()));
        }
        int cpuLayers = layerCount - onDevices;
        Workspace.Estimate hostWs = Workspace.estimate(cpu, config, shape, cpuLayers, !outputOnDevice);
        long staging = 4L * shape.batchSize() * config.embeddingDim() + 4L * config.vocabSize();   // boundary rows, logits
        long hostWeights = (mmap ? 0 : copyBytes) + (outputOnDevice ? 0 : cpuOutputWeights);
        for (LayerPlan.Layer l : layers) {
            hostWeights += l.backend().equals("cpu") ? l.weightBytes() : 0;
        }
        Estimate host = new Estimate(hostWeights, request.parallel() * hostWs.kvCacheBytes(),
                request.parallel() * (hostWs.activationBytes() + staging),
                cpuLayers > 0 || !outputOnDevice ? cpu.scratchBytes(Workspace.scratchShape(config, shape, threads)) : 0);
        long hostLimit = dev.spillway.engine.memory.MemoryAccount.limitFor(request.hostBudgetBytes());
        long hostAvailable = Math.max(0, hostLimit - request.hostUsedBytes());
        String asked = request.gpuLayers() == ModelParams.AUTO ? "auto" : request.gpuLayers() == ModelParams.ALL_LAYERS ? "all"
                : Integer.toString(request.gpuLayers());
        return new LayerPlan(asked, devices.isEmpty() ? 0 : n, layers, output, plans,
                new LayerPlan.HostPlan(host, request.hostBudgetBytes(), hostAvailable), shape, request.parallel(), reasons);
    }
}
