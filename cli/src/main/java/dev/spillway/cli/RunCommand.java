package dev.spillway.cli;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.MemoryInfo;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.api.StopReason;
import dev.spillway.offload.schedule.LayerPlan;
import dev.spillway.offload.schedule.LoadReport;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.logging.LogRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code spillway run [MODEL] [PROMPT]}: streams a continuation of the prompt. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Generates text that continues a prompt, streaming it as it comes.",
                "Without a model, runs a built-in demo model with random weights (its text is noise)."})
final class RunCommand implements Callable<Integer> {
    static final String DEFAULT_PROMPT = "Once upon a time";

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..2", paramLabel = "ARG", description = "[MODEL.gguf] [PROMPT]")
    List<String> positional = new ArrayList<>();

    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF model file.")
    Path model;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "Prompt (default: \"" + DEFAULT_PROMPT + "\").")
    String prompt;

    @Option(names = {"-n", "--n-predict"}, paramLabel = "N",
            description = "Tokens to generate (-1 = until end of text or a full context). Default: ${DEFAULT-VALUE}.")
    int nPredict = 128;

    @Option(names = {"-v", "--verbose"}, description = "Print the plan, the load report (measured device memory beside the estimate) and a memory breakdown.")
    boolean verbose;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ContextOptions contextOptions;

    @Mixin
    SamplingOptions samplingOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Main.configureLogging(verbose, err, RunCommand::printedByRun);
        resolvePositionals();
        if (nPredict < -1) {
            throw new ParameterException(spec.commandLine(), "-n/--n-predict must be -1 or more, got " + nPredict);
        }
        Path modelPath = model;
        if (modelPath == null) {
            modelPath = DemoModel.ensure(err);
            err.println("spillway: no model given: using the built-in demo model " + modelPath);
            err.println("spillway: its weights are random, so the text it writes is noise");
        }
        String text = prompt != null ? prompt : DEFAULT_PROMPT;
        if (!spec.commandLine().getParseResult().hasMatchedOption("-b")) {
            contextOptions.batchSize = promptBatch(contextOptions.batchSize, text);
        }
        ContextParams contextParams = Errors.fromOptions(spec.commandLine(),
                () -> contextOptions.toParams().withSampling(samplingOptions.toParams()));
        ModelParams modelParams = Errors.fromOptions(spec.commandLine(), () -> modelOptions.toParams(contextParams));

        Model loaded;
        try (ProgressBar bar = ProgressBar.forTerminal(err, "loading")) {
            loaded = Model.load(modelPath, modelParams, bar::update);
        }
        printLoad(err, loaded, verbose);
        try (Model m = loaded; Context ctx = m.newContext(contextParams)) {
            int maxTokens = nPredict < 0 ? ctx.contextSize() : nPredict;
            GenerationResult r;
            out.print(text);
            out.flush();
            try {
                r = ctx.generate(text, maxTokens, (id, piece) -> {
                    out.print(piece);
                    out.flush();
                });
            } finally {
                // Ends the echoed prompt and the text so far, also when generation fails: the error
                // line (on stderr, often the same terminal) then starts on a line of its own.
                out.println();
                out.flush();
            }
            printStats(err, r);
            if (verbose) {
                err.print("spillway: memory\n" + ctx.memoryInfo().describe());
                err.flush();
            }
        }
        return 0;
    }

    /**
     * After loading: with {@code -v}, the plan that loaded, the load report and per device the bytes
     * measured beside the estimate; without, the report only when a device ran out and the load fell back.
     */
    static void printLoad(PrintWriter err, Model model, boolean verbose) {
        LoadReport report = model.loadReport();
        if (verbose) {
            LayerPlan plan = model.plan();
            err.print("spillway: plan\n" + plan.table());
            err.println("spillway: " + report.line());
            for (LayerPlan.DevicePlan d : plan.devices()) {
                Long measured = report.measured().get(d.id());
                if (measured != null) {
                    err.println("spillway: " + measuredVersusEstimate(d.id(), measured, d.estimatedBytes()));
                }
            }
        } else if (!report.failed().isEmpty()) {
            err.println("spillway: " + report.line());
        }
        err.flush();
    }

    /** {@code opencl:0: measured 3.67 MiB, estimated 3.68 MiB (-0.3 %)} */
    static String measuredVersusEstimate(String device, long measured, long estimated) {
        String diff = estimated > 0 ? String.format(Locale.ROOT, "%+.1f %%", 100.0 * (measured - estimated) / estimated) : "n/a";
        return device + ": measured " + MemoryInfo.human(measured) + ", estimated " + MemoryInfo.human(estimated) + " (" + diff + ")";
    }

    /**
     * The library's load log records that {@link #printLoad} prints itself (the plan, the placement
     * and the load report line), left out of the log so they appear once. The lines about each failed
     * attempt ({@code ...; planning fewer layers}) and spills still come through the log as they happen.
     */
    private static boolean printedByRun(LogRecord r) {
        String msg = r.getMessage();
        if (msg == null) {
            return false;
        }
        return msg.startsWith("plan for ") || msg.startsWith("placement of ")
                || (msg.startsWith("offload: ") && !msg.endsWith("planning fewer layers"));
    }

    /**
     * The batch for a prompt when {@code -b} is not given: the default, capped at the most tokens the
     * prompt can become (one per UTF-8 byte, plus BOS and the tokenizer's leading space). The context's
     * activations are sized by the batch, so a short prompt does not hold 512 rows of them on the heap;
     * a batch at least as long as the prompt reads it in one pass either way, so the text is the same.
     */
    static int promptBatch(int defaultBatch, String prompt) {
        long bound = (long) prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 2;
        return (int) Math.max(1, Math.min(defaultBatch, bound));
    }

    /** Reads [MODEL] [PROMPT]: a single argument is the model if it names a file or ends in .gguf, else the prompt. */
    private void resolvePositionals() {
        List<String> args = new ArrayList<>(positional);
        if (args.size() > 2) {
            throw new ParameterException(spec.commandLine(), "unexpected argument '" + args.get(2)
                    + "': run takes at most MODEL and PROMPT; quote a prompt that has spaces");
        }
        if (args.size() == 2) {
            if (model != null || prompt != null) {
                throw new ParameterException(spec.commandLine(), "give the model and prompt either as arguments or with -m/-p, not both");
            }
            model = Path.of(args.get(0));
            prompt = args.get(1);
        } else if (args.size() == 1) {
            String a = args.get(0);
            boolean looksLikeModel = a.endsWith(".gguf") || Files.isRegularFile(Path.of(a));
            if (looksLikeModel && model == null) {
                model = Path.of(a);
            } else if (prompt == null) {
                prompt = a;
            } else {
                throw new ParameterException(spec.commandLine(), "unexpected argument '" + a + "'");
            }
        }
    }

    static void printStats(PrintWriter err, GenerationResult r) {
        err.printf("spillway: prompt     %5d tokens in %8.1f ms  (%8.2f tokens/s)%n",
                r.promptTokens(), r.promptNanos() / 1e6, r.promptTokensPerSecond());
        err.printf("spillway: generation %5d tokens in %8.1f ms  (%8.2f tokens/s), stopped: %s%n",
                r.tokens().length, r.generationNanos() / 1e6, r.generationTokensPerSecond(), describe(r.stopReason()));
    }

    private static String describe(StopReason reason) {
        return switch (reason) {
            case END_OF_GENERATION -> "end of text";
            case MAX_TOKENS -> "token limit (-n)";
            case CONTEXT_FULL -> "context full (-c)";
            case CACHE_LIMIT -> "KV cache cap (--max-cache-tokens)";
        };
    }
}
