package dev.spillway.cli;

import dev.spillway.engine.model.SyntheticLlama;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spillway warmup} (hidden): the training workload of the launcher's ahead-of-time cache
 * ({@code -XX:AOTCacheOutput}, JEP 483/514/515). It writes small synthetic models of each weight
 * type into a temporary folder and runs {@code spillway run} on each (parsing, loading, tokenizing,
 * a prompt through mat-mat, tokens through mat-vec, greedy and sampled), so that the cache holds the
 * classes, linkage and method profiles of a real run. Needs no model file of its own.
 */
@Command(name = "warmup", hidden = true,
        description = "Runs the built-in training workload of the start-up cache (used by the launcher).")
final class WarmupCommand implements Callable<Integer> {
    /** The weight types a training run covers by default: the common ones of GGUF files. */
    static final List<String> DEFAULT_TYPES = List.of("f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k");
    static final String PROMPT = "Once upon a time, there was a little dog named Max. He liked to run";

    @Spec
    CommandSpec spec;

    @Option(names = "--types", split = ",", paramLabel = "TYPE", description = "Weight types to run. Default: all common ones.")
    List<String> types = new ArrayList<>(DEFAULT_TYPES);

    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", description = "Tokens to generate per model. Default: ${DEFAULT-VALUE}.")
    int tokens = 48;

    /** Llama-shaped (head size 64, grouped K/V) and small; rows a multiple of 256 for the K-quants. */
    static SyntheticLlama.Spec model(String type) {
        return new SyntheticLlama.Spec(512, 2, 1536, 8, 2, 1024, 256, BenchCommand.parseWeightType(type), false, 3);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (tokens < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "-n must be positive, got " + tokens);
        }
        List<SyntheticLlama.Spec> specs = new ArrayList<>();
        for (String t : types) {
            specs.add(model(t)); // validates every type before any work
        }
        Path dir = Files.createTempDirectory("spillway-warmup");
        try {
            PrintWriter sink = new PrintWriter(Writer.nullWriter());
            for (int i = 0; i < specs.size(); i++) {
                Path file = dir.resolve(specs.get(i).fileName());
                SyntheticLlama.write(specs.get(i), file);
                // Greedy on most, sampled on one: both paths of the sampler.
                String[] temp = i == 0 ? new String[] {"--seed", "1"} : new String[] {"--temp", "0"};
                List<String> args = new ArrayList<>(List.of("run", file.toString(), PROMPT, "-n", Integer.toString(tokens), "-ngl", "0"));
                args.addAll(List.of(temp));
                int code = Main.execute(args.toArray(String[]::new), sink, err);
                if (code != 0) {
                    err.println("spillway: warmup: run on the " + types.get(i) + " model failed (exit " + code + ")");
                    return code;
                }
                Files.delete(file);
            }
        } finally {
            deleteTree(dir);
        }
        return 0;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
