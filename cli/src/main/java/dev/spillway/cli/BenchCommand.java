package dev.spillway.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.MemoryInfo;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code spillway bench}: prompt-processing and generation throughput, llama-bench style. Without
 * model files it benchmarks synthetic models with TinyLlama-1.1B's shapes in the requested types
 * (written once into the cache directory).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prompt processing (pp) and generation (tg) in tokens/s.",
                "Without MODEL files, uses synthetic TinyLlama-1.1B-shaped models (random weights) of each --types entry."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "MODEL", description = "GGUF files to benchmark.")
    List<Path> models = new ArrayList<>();

    @Option(names = "--types", split = ",", paramLabel = "TYPE",
            description = "Weight types of the synthetic models: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k. Default: f16,q8_0,q4_0.")
    List<String> types = new ArrayList<>(List.of("f16", "q8_0", "q4_0"));

    @Option(names = {"-p", "--n-prompt"}, paramLabel = "N", description = "Prompt tokens per pp test. Default: ${DEFAULT-VALUE}.")
    int promptTokens = 128;

    @Option(names = {"-n", "--n-gen"}, paramLabel = "N", description = "Tokens per tg test. Default: ${DEFAULT-VALUE}.")
    int genTokens = 128;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "Repetitions of each test. Default: ${DEFAULT-VALUE}.")
    int repetitions = 3;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path json;

    @Mixin
    ModelOptions modelOptions;

    /** One test's result. */
    record Result(String model, String type, long sizeBytes, long parameters, int threads, String test,
                  double tokensPerSecond, double stddev, double weightGigabytesPerSecond) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Main.configureLogging(false, err);
        if (promptTokens < 1 || genTokens < 1 || repetitions < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "-p, -n and -r must be positive");
        }
        List<Path> targets = new ArrayList<>(models);
        if (targets.isEmpty()) {
            for (String t : types) {
                GgmlType type = parseWeightType(t);
                targets.add(DemoModel.ensure(SyntheticLlama.Spec.tinyLlama(type), err));
            }
        }
        // The plan reserves the context each test uses.
        ContextParams context = ContextParams.defaults()
                .withContextSize(promptTokens + Math.max(genTokens, 4) + 1).withBatchSize(promptTokens);
        ModelParams params = Errors.fromOptions(spec.commandLine(), () -> modelOptions.toParams(context));
        List<Result> results = new ArrayList<>();
        out.printf("%-40s %-6s %10s %8s %7s %8s %16s %10s%n", "model", "type", "size", "params", "threads", "test", "t/s", "GB/s");
        for (Path p : targets) {
            try (Model model = Model.load(p, params);
                 Context ctx = model.newContext(context)) {
                long size = LlamaWeights.fileBytes(model.file());
                long parameters = model.file().tensors().stream()
                        .mapToLong(t -> java.util.Arrays.stream(t.shape()).reduce(1, Math::multiplyExact)).sum();
                String type = dominantType(model);
                // Bytes read per generated token: every weight but the embedding table (looked up by row).
                long embedding = model.file().findTensor("token_embd.weight").map(t -> t.byteSize()).orElse(0L);
                long perToken = size - (model.config().tiedOutput() ? 0 : embedding);
                int threads = params.effectiveThreads();
                SplittableRandom rng = new SplittableRandom(42);
                int vocab = model.config().vocabSize();

                // Warm-up, as llama-bench does: one prompt and a few single tokens, so that the JIT has
                // compiled the kernels before anything is timed.
                ctx.evaluate(randomTokens(rng, vocab, promptTokens));
                for (int i = 0; i < 4; i++) {
                    ctx.evaluate(randomTokens(rng, vocab, 1));
                }
                double[] pp = new double[repetitions];
                double[] tg = new double[repetitions];
                for (int r = 0; r < repetitions; r++) {
                    ctx.clear();
                    int[] prompt = randomTokens(rng, vocab, promptTokens);
                    long t0 = System.nanoTime();
                    ctx.evaluate(prompt);
                    pp[r] = promptTokens * 1e9 / (System.nanoTime() - t0);
                }
                float[] logits = new float[vocab];
                for (int r = 0; r < repetitions; r++) {
                    ctx.clear();
                    int[] one = new int[1];
                    long t0 = System.nanoTime();
                    for (int i = 0; i < genTokens; i++) {
                        one[0] = rng.nextInt(vocab);
                        ctx.evaluate(one, logits);
                    }
                    tg[r] = genTokens * 1e9 / (System.nanoTime() - t0);
                }
                String name = model.file().getString("general.name", p.getFileName().toString());
                reportDeviceMemory(model, err);
                results.add(new Result(name, type, size, parameters, threads, "pp" + promptTokens, mean(pp), stddev(pp), 0));
                results.add(new Result(name, type, size, parameters, threads, "tg" + genTokens, mean(tg), stddev(tg),
                        mean(tg) * perToken / 1e9));
                for (Result res : results.subList(results.size() - 2, results.size())) {
                    out.printf("%-40s %-6s %10s %7.2fB %7d %8s %9.2f ± %5.2f %10s%n", abbreviate(res.model(), 40), res.type(),
                            MemoryInfo.human(res.sizeBytes()), res.parameters() / 1e9, res.threads(), res.test(),
                            res.tokensPerSecond(), res.stddev(),
                            res.weightGigabytesPerSecond() > 0 ? String.format("%.1f", res.weightGigabytesPerSecond()) : "");
                    out.flush();
                }
            }
        }
        if (json != null) {
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), results);
            err.println("spillway: wrote " + json);
        }
        return 0;
    }

    /** After the runs: each device backend's allocation and, for CUDA/HIP, what NVML / ROCm SMI read for the whole device. */
    private static void reportDeviceMemory(Model model, PrintWriter err) {
        for (dev.spillway.engine.backend.Backend b : model.backends()) {
            if (b instanceof dev.spillway.offload.device.DeviceBackend d) {
                String smi = d.device().api().equals("opencl") ? "" : "; " + dev.spillway.offload.SmiReadings.read(d.device()).describe();
                err.printf("spillway: %s: %s allocated by spillway%s%n", d.name(), MemoryInfo.human(d.allocatedBytes()), smi);
            }
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

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double stddev(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }

    private static String abbreviate(String s, int width) {
        return s.length() <= width ? s : "…" + s.substring(s.length() - width + 1);
    }
}
