package dev.spillway.cli;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.offload.DeviceRequest;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.OffloadBackend;
import dev.spillway.offload.metrics.MemoryProbe;
import dev.spillway.offload.metrics.MemoryProbes;
import dev.spillway.offload.metrics.MemorySampler;
import dev.spillway.offload.schedule.LayerPlan;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code spillway bench}: prompt-processing and generation throughput, llama-bench style, over sweeps
 * of {@code -ngl}, {@code -ctk}/{@code -ctv}, {@code -t}, {@code -p}, {@code -n} and models
 * ({@link BenchPlan}). Each case also reads memory: the plan's device estimate, the device backends'
 * counters, and an external reading sampled while it runs (NVML, nvidia-smi, ROCm SMI or rocm-smi for
 * a GPU; the process's resident set for OpenCL/PoCL and the CPU). Without model files it benchmarks
 * synthetic models with TinyLlama-1.1B's shapes in the requested types (written once into the cache
 * directory).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prompt processing (pp) and generation (tg) in tokens/s, with memory per case.",
                "Comma lists sweep, as in llama-bench: every combination of MODEL, -ctk, -ctv, -t and -ngl is a case; each case runs every -p and -n test.",
                "Without MODEL files, uses synthetic models (random weights) of each --types entry, TinyLlama-1.1B-shaped or "
                        + "Llama-2-7B-shaped (--synthetic)."})
final class BenchCommand implements Callable<Integer> {
    /** How often the memory readings are taken while a case runs. */
    static final Duration SAMPLE_INTERVAL = Duration.ofMillis(100);

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "MODEL", description = "GGUF files to benchmark.")
    List<Path> models = new ArrayList<>();

    @Option(names = {"-m", "--model"}, split = ",", paramLabel = "FILE", description = "More GGUF files (llama-bench's flag).")
    List<Path> moreModels = new ArrayList<>();

    @Option(names = "--types", split = ",", paramLabel = "TYPE",
            description = "Weight types of the synthetic models: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k. Default: f16,q8_0,q4_0.")
    List<String> types = new ArrayList<>(List.of("f16", "q8_0", "q4_0"));

    /** The shapes of the synthetic models. */
    enum SyntheticShape {
        TINYLLAMA("tinyllama"), LLAMA2_7B("llama2-7b");

        final String flag;

        SyntheticShape(String flag) {
            this.flag = flag;
        }

        SyntheticLlama.Spec spec(GgmlType type) {
            return this == TINYLLAMA ? SyntheticLlama.Spec.tinyLlama(type) : SyntheticLlama.Spec.llama2_7b(type);
        }

        static SyntheticShape parse(String value) {
            for (SyntheticShape s : values()) {
                if (s.flag.equalsIgnoreCase(value)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown synthetic shape '" + value + "': use tinyllama or llama2-7b");
        }
    }

    @Option(names = "--synthetic", paramLabel = "SHAPE",
            description = "Shape of the synthetic models: tinyllama (TinyLlama-1.1B: 22 layers, n_embd 2048) or llama2-7b "
                    + "(32 layers, n_embd 4096, n_ff 11008; about 3.8 GB in q4_0). Default: ${DEFAULT-VALUE}.")
    String synthetic = "tinyllama";

    @Option(names = {"-p", "--n-prompt"}, split = ",", paramLabel = "N", description = "Prompt tokens per pp test (0: none). Default: 128.")
    List<Integer> promptTokens = new ArrayList<>(List.of(128));

    @Option(names = {"-n", "--n-gen"}, split = ",", paramLabel = "N", description = "Tokens per tg test (0: none). Default: 128.")
    List<Integer> genTokens = new ArrayList<>(List.of(128));

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "Repetitions of each test. Default: ${DEFAULT-VALUE}.")
    int repetitions = 3;

    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, split = ",", paramLabel = "N|auto|all",
            converter = ModelOptions.GpuLayersConverter.class,
            description = {"Layers to offload, each value as in `run`: the last N; -1 or all = every layer and the output head;",
                    "auto = as many as fit; 0 = none. A list sweeps, e.g. 0,8,16,-1,auto. Default: auto."})
    List<Integer> gpuLayers = new ArrayList<>(List.of(ModelParams.AUTO));

    @Option(names = {"-ctk", "--cache-type-k"}, split = ",", paramLabel = "TYPE", converter = ContextOptions.CacheTypeConverter.class,
            description = "KV cache type(s) for K: f32, f16, bf16, q8_0, q4_0. Default: f16.")
    List<GgmlType> keyTypes = new ArrayList<>(List.of(GgmlType.F16));

    @Option(names = {"-ctv", "--cache-type-v"}, split = ",", paramLabel = "TYPE", converter = ContextOptions.CacheTypeConverter.class,
            description = "KV cache type(s) for V: f32, f16, bf16, q8_0, q4_0. Default: f16.")
    List<GgmlType> valueTypes = new ArrayList<>(List.of(GgmlType.F16));

    @Option(names = {"-t", "--threads"}, split = ",", paramLabel = "N",
            description = "CPU threads, a list sweeps (default: all ${sys:spillway.cores} cores).")
    List<Integer> threads = new ArrayList<>(List.of(0));

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "Output format on stdout: table, json, csv or md. Default: table.")
    String output = "table";

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON (the fields of -o json).")
    Path json;

    @Option(names = "--chart", paramLabel = "DIR", description = "Also draw charts of tokens/s and memory against offloaded layers (PNG and SVG) into DIR.")
    Path chartDir;

    @Mixin
    LoadOptions loadOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Main.configureLogging(false, err);
        BenchOutput.Format format = Errors.fromOptions(spec.commandLine(), () -> BenchOutput.Format.parse(output));
        SyntheticShape shape = Errors.fromOptions(spec.commandLine(), () -> SyntheticShape.parse(synthetic));
        List<Path> files = new ArrayList<>(models);
        files.addAll(moreModels);
        BenchPlan checked = Errors.fromOptions(spec.commandLine(), () -> BenchPlan.of(files.isEmpty() ? List.of(Path.of("synthetic")) : files,
                gpuLayers, keyTypes, valueTypes, threads, promptTokens, genTokens, repetitions));
        // Every case's parameters are checked before anything runs (a bad -t is a usage error, not case 5's failure).
        caseParams(checked);
        BenchPlan plan = checked;
        if (files.isEmpty()) {
            List<GgmlType> weightTypes = new ArrayList<>();
            for (String t : types) {
                weightTypes.add(Errors.fromOptions(spec.commandLine(), () -> parseWeightType(t)));
            }
            List<Path> syntheticFiles = new ArrayList<>();
            for (GgmlType type : weightTypes) {
                syntheticFiles.add(DemoModel.ensure(shape.spec(type), err));
            }
            plan = BenchPlan.of(syntheticFiles, gpuLayers, keyTypes, valueTypes, threads, promptTokens, genTokens, repetitions);
        }
        List<ModelParams> params = caseParams(plan);
        Devices devices = Devices.standard();
        try (DeviceProbes probes = DeviceProbes.open(devices, loadOptions.device, plan, err)) {
            BenchOutput table = new BenchOutput(format, out, probes.external());
            for (int i = 0; i < plan.cases().size(); i++) {
                for (BenchResult r : runCase(plan, plan.cases().get(i), params.get(i), devices, probes)) {
                    table.add(r);
                }
            }
            table.finish();
            if (json != null) {
                java.nio.file.Files.writeString(json, table.json() + System.lineSeparator());
                err.println("spillway: wrote " + json);
            }
            if (chartDir != null) {
                java.nio.file.Files.createDirectories(chartDir);
                List<Path> written = BenchCharts.write(table.results().stream().map(BenchResult::point).toList(), chartDir);
                err.println("spillway: charts in " + chartDir + (written.isEmpty() ? "" : ": " + String.join(", ",
                        written.stream().map(p -> p.getFileName().toString()).toList())));
            }
        }
        return 0;
    }

    private List<ModelParams> caseParams(BenchPlan plan) {
        List<ModelParams> params = new ArrayList<>();
        for (BenchPlan.Case c : plan.cases()) {
            params.add(Errors.fromOptions(spec.commandLine(), () -> loadOptions.toParams(context(plan, c), c.gpuLayers(), c.threads())));
        }
        return params;
    }

    /** The context each of the case's tests uses (and the plan reserves). */
    private static ContextParams context(BenchPlan plan, BenchPlan.Case c) {
        return ContextParams.defaults().withContextSize(plan.contextSize()).withBatchSize(plan.maxPrompt())
                .withKeyType(c.keyType()).withValueType(c.valueType());
    }

    /** Loads the case's model, runs every test, and reads memory from before the load to the end of the last test. */
    private static List<BenchResult> runCase(BenchPlan plan, BenchPlan.Case c, ModelParams params, Devices devices,
                                             DeviceProbes probes) throws java.io.IOException {
        ContextParams context = context(plan, c);
        try (MemoryProbe rssProbe = MemoryProbes.process();
             MemorySampler rss = new MemorySampler(rssProbe, SAMPLE_INTERVAL);
             MemorySampler device = probes.external() ? new MemorySampler(probes.probe(), SAMPLE_INTERVAL) : null) {
            rss.start();
            if (device != null) {
                device.start();
            }
            try (Model model = Model.load(c.model(), params, LlamaWeights.Progress.NONE, devices);
                 Context ctx = model.newContext(context)) {
                long size = LlamaWeights.fileBytes(model.file());
                long parameters = model.file().tensors().stream()
                        .mapToLong(t -> java.util.Arrays.stream(t.shape()).reduce(1, Math::multiplyExact)).sum();
                String type = dominantType(model);
                // Bytes read per generated token: every weight but the embedding table (looked up by row).
                long embedding = model.file().findTensor("token_embd.weight").map(t -> t.byteSize()).orElse(0L);
                long perToken = size - (model.config().tiedOutput() ? 0 : embedding);
                SplittableRandom rng = new SplittableRandom(42);
                int vocab = model.config().vocabSize();
                // Warm-up, as llama-bench does: one prompt and a few single tokens, so that the JIT has
                // compiled the kernels before anything is timed.
                ctx.evaluate(randomTokens(rng, vocab, plan.maxPrompt()));
                for (int i = 0; i < BenchPlan.WARMUP_TOKENS; i++) {
                    ctx.evaluate(randomTokens(rng, vocab, 1));
                }
                List<long[]> samples = new ArrayList<>();
                float[] logits = new float[vocab];
                for (BenchPlan.Test test : plan.tests()) {
                    long[] ns = new long[plan.repetitions()];
                    for (int r = 0; r < plan.repetitions(); r++) {
                        ctx.clear();
                        if (test.prompt() > 0) {
                            int[] prompt = randomTokens(rng, vocab, test.prompt());
                            long t0 = System.nanoTime();
                            ctx.evaluate(prompt);
                            ns[r] = System.nanoTime() - t0;
                        } else {
                            int[] one = new int[1];
                            long t0 = System.nanoTime();
                            for (int i = 0; i < test.gen(); i++) {
                                one[0] = rng.nextInt(vocab);
                                ctx.evaluate(one, logits);
                            }
                            ns[r] = System.nanoTime() - t0;
                        }
                    }
                    samples.add(ns);
                }
                // Counters and readings with the model and its context still alive.
                long allocated = 0;
                for (Backend b : model.backends()) {
                    if (b instanceof OffloadBackend d) {
                        allocated += d.allocatedBytes();
                    }
                }
                long cpuAllocated = model.backends().getFirst().allocatedBytes();
                LayerPlan loaded = model.plan();
                long estimated = loaded.devices().stream().mapToLong(LayerPlan.DevicePlan::estimatedBytes).sum();
                Placement placement = model.placement();
                int deviceLayers = (int) placement.layerBackends().stream().filter(b -> b instanceof OffloadBackend).count();
                boolean outputOnDevice = placement.outputBackend() instanceof OffloadBackend;
                String deviceNames = String.join(",", java.util.stream.Stream.concat(placement.layerBackends().stream(),
                                java.util.stream.Stream.of(placement.outputBackend()))
                        .filter(b -> b instanceof OffloadBackend).map(b -> ((OffloadBackend) b).device().id()).distinct().toList());
                MemorySampler.Summary rssSummary = rss.stop();
                MemorySampler.Summary memory = device != null ? device.stop() : rssSummary;
                String name = model.file().getString("general.name", c.model().getFileName().toString());
                List<BenchResult> results = new ArrayList<>();
                for (int i = 0; i < plan.tests().size(); i++) {
                    results.add(new BenchResult(c, plan.tests().get(i), name, type, size, parameters, params.effectiveThreads(),
                            deviceNames.isEmpty() ? "cpu" : deviceNames, deviceLayers, outputOnDevice, estimated, allocated,
                            loaded.host().estimate().totalBytes(), cpuAllocated, memory, rssSummary, samples.get(i), perToken));
                }
                return results;
            }
        }
    }

    /**
     * The external probe of the devices the sweep may use, opened once for the whole run: the devices
     * {@code --device} names (or the automatic choice), each with {@link MemoryProbes#forDevice}; none
     * when every case is {@code -ngl 0} or no device has a management library or tool.
     */
    private record DeviceProbes(MemoryProbe probe, List<MemoryProbe> opened) implements AutoCloseable {
        static DeviceProbes open(Devices devices, String device, BenchPlan plan, PrintWriter err) {
            if (plan.cases().stream().allMatch(c -> c.gpuLayers() == 0)) {
                return new DeviceProbes(null, List.of());
            }
            List<MemoryProbe> external = new ArrayList<>();
            List<MemoryProbe> all = new ArrayList<>();
            List<String> reasons = new ArrayList<>();
            for (DeviceRequest request : DeviceRequest.parseList(device)) {
                Optional<Devices.Choice> choice = devices.choose(request, reasons);
                if (choice.isEmpty()) {
                    continue;
                }
                MemoryProbe p = MemoryProbes.forDevice(choice.get().device());
                all.add(p);
                if (p.source().equals("none")) {
                    err.println("spillway: " + choice.get().device().id() + ": no external memory reading (" + p.reason().orElse("") + ")");
                } else {
                    external.add(p);
                }
            }
            // With one device left without a reading, a sum would be wrong: the process's resident set stands in.
            boolean complete = !external.isEmpty() && external.size() == all.size();
            return new DeviceProbes(complete ? MemoryProbes.sum(external) : null, all);
        }

        boolean external() {
            return probe != null;
        }

        @Override
        public void close() {
            opened.forEach(MemoryProbe::close);
        }
    }

    static GgmlType parseWeightType(String name) {
        for (GgmlType t : GgmlType.values()) {
            if (t.name().equalsIgnoreCase(name) && t.computable()) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown or unsupported weight type '" + name
                + "'; use f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q5_k or q6_k");
    }

    /** The type holding most of the model's bytes. */
    private static String dominantType(Model model) {
        java.util.Map<GgmlType, Long> bytes = new java.util.EnumMap<>(GgmlType.class);
        model.file().tensors().forEach(t -> bytes.merge(t.type(), t.byteSize(), Long::sum));
        return bytes.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).map(e -> e.getKey().name()).orElse("?");
    }

    private static int[] randomTokens(SplittableRandom rng, int vocab, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rng.nextInt(vocab);
        }
        return t;
    }
}
