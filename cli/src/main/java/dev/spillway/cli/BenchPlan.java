package dev.spillway.cli;

import dev.spillway.api.ModelParams;
import dev.spillway.engine.tensor.GgmlType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * A {@code bench} sweep, as llama-bench expands its lists: every combination of model, K and V cache
 * type, thread count and {@code -ngl} value is a {@link Case} (one load), and each case runs every
 * {@link Test}: {@code pp N} for each prompt length N &gt; 0, {@code tg N} for each generation length
 * N &gt; 0. Values repeated in a list are run once.
 *
 * @param cases       the cases, models outermost, {@code -ngl} innermost
 * @param tests       the tests each case runs
 * @param repetitions timed runs per test
 */
record BenchPlan(List<Case> cases, List<Test> tests, int repetitions) {

    /**
     * One load.
     *
     * @param model     the GGUF file
     * @param gpuLayers as {@link ModelParams#gpuLayers()}: a count, {@link ModelParams#ALL_LAYERS} or {@link ModelParams#AUTO}
     * @param keyType   the K cache type
     * @param valueType the V cache type
     * @param threads   CPU threads (0 = all cores)
     */
    record Case(Path model, int gpuLayers, GgmlType keyType, GgmlType valueType, int threads) {
        /** {@code -ngl} as given: {@code auto}, {@code -1} or the count. */
        String gpuLayersLabel() {
            return label(gpuLayers);
        }
    }

    /**
     * One timed test.
     *
     * @param prompt tokens evaluated in one batch (pp), 0 for tg
     * @param gen    tokens generated one at a time (tg), 0 for pp
     */
    record Test(int prompt, int gen) {
        String name() {
            return prompt > 0 ? "pp" + prompt : "tg" + gen;
        }

        int tokens() {
            return prompt > 0 ? prompt : gen;
        }
    }

    BenchPlan {
        cases = List.copyOf(cases);
        tests = List.copyOf(tests);
    }

    /**
     * The sweep of these lists. Throws IllegalArgumentException (a usage error) for an empty list, a
     * negative length or thread count, no test at all, or fewer than one repetition.
     */
    static BenchPlan of(List<Path> models, List<Integer> gpuLayers, List<GgmlType> keyTypes, List<GgmlType> valueTypes,
                        List<Integer> threads, List<Integer> prompts, List<Integer> gens, int repetitions) {
        require(!models.isEmpty(), "no model to benchmark");
        require(!gpuLayers.isEmpty() && !keyTypes.isEmpty() && !valueTypes.isEmpty() && !threads.isEmpty(),
                "-ngl, -ctk, -ctv and -t need at least one value each");
        require(repetitions >= 1, "repetitions (-r) must be at least 1, got " + repetitions);
        for (int t : threads) {
            require(t >= 0, "threads (-t) must be 0 (all cores) or more, got " + t);
        }
        List<Test> tests = new ArrayList<>();
        for (int p : distinct(prompts)) {
            require(p >= 0, "prompt tokens (-p) must be 0 or more, got " + p);
            if (p > 0) {
                tests.add(new Test(p, 0));
            }
        }
        for (int n : distinct(gens)) {
            require(n >= 0, "generated tokens (-n) must be 0 or more, got " + n);
            if (n > 0) {
                tests.add(new Test(0, n));
            }
        }
        require(!tests.isEmpty(), "nothing to measure: -p and -n are both 0");
        List<Case> cases = new ArrayList<>();
        for (Path m : distinct(models)) {
            for (GgmlType k : distinct(keyTypes)) {
                for (GgmlType v : distinct(valueTypes)) {
                    for (int t : distinct(threads)) {
                        for (int ngl : distinct(gpuLayers)) {
                            cases.add(new Case(m, ngl, k, v, t));
                        }
                    }
                }
            }
        }
        return new BenchPlan(cases, tests, repetitions);
    }

    /** The longest prompt of any test (the batch size the contexts need), at least 1. */
    int maxPrompt() {
        return Math.max(1, tests.stream().mapToInt(Test::prompt).max().orElse(0));
    }

    /** Context positions a test run may use: the longest prompt or generation, plus the warm-up's extra tokens. */
    int contextSize() {
        int longest = tests.stream().mapToInt(t -> Math.max(t.prompt(), t.gen())).max().orElse(1);
        return Math.max(longest, maxPrompt()) + WARMUP_TOKENS + 1;
    }

    /** Single tokens evaluated after the warm-up prompt. */
    static final int WARMUP_TOKENS = 4;

    static String label(int gpuLayers) {
        return gpuLayers == ModelParams.AUTO ? "auto" : Integer.toString(gpuLayers);
    }

    /** Mean and sample standard deviation (0 for one value), as llama-bench reports them. */
    record Stats(double mean, double stddev) {
        static Stats of(double[] v) {
            double s = 0;
            for (double x : v) {
                s += x;
            }
            double m = s / v.length;
            if (v.length < 2) {
                return new Stats(m, 0);
            }
            double q = 0;
            for (double x : v) {
                q += (x - m) * (x - m);
            }
            return new Stats(m, Math.sqrt(q / (v.length - 1)));
        }
    }

    /** A cache type's llama.cpp name, e.g. {@code f16}, {@code q8_0}. */
    static String typeName(GgmlType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }

    private static <T> List<T> distinct(List<T> values) {
        return List.copyOf(new LinkedHashSet<>(values));
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
