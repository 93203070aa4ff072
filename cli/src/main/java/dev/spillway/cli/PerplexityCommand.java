package dev.spillway.cli;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.api.Perplexity;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code spillway perplexity MODEL -f TEXT -c N}: perplexity of a model on a text, as llama-perplexity computes it. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = {"Perplexity of the model on a text file, computed as llama.cpp's llama-perplexity does:",
                "the text is cut into chunks of -c tokens, each evaluated from an empty cache with BOS first,",
                "and the second half of each chunk is scored. Prints the running value per chunk, then the final estimate."})
final class PerplexityCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "MODEL", description = "GGUF model file (or -m).")
    Path positionalModel;

    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF model file.")
    Path model;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", required = true, description = "The text to score (UTF-8).")
    Path textFile;

    @Option(names = {"-v", "--verbose"}, description = "Print the plan and the load report.")
    boolean verbose;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ContextOptions contextOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Main.configureLogging(verbose, err);
        if (model != null && positionalModel != null) {
            throw new ParameterException(spec.commandLine(), "the model is given twice: " + positionalModel + " and -m " + model);
        }
        Path modelPath = model != null ? model : positionalModel;
        if (modelPath == null) {
            throw new ParameterException(spec.commandLine(), "no model given: spillway perplexity MODEL -f TEXT");
        }
        ContextParams contextParams = Errors.fromOptions(spec.commandLine(), () -> contextOptions.toParams().withAllLogits(true));
        ModelParams modelParams = Errors.fromOptions(spec.commandLine(), () -> modelOptions.toParams(contextParams));
        String text = Files.readString(textFile, StandardCharsets.UTF_8);

        Model loaded;
        try (ProgressBar bar = ProgressBar.forTerminal(err, "loading")) {
            loaded = Model.load(modelPath, modelParams, bar::update);
        }
        RunCommand.printLoad(err, loaded, verbose);
        try (Model m = loaded; Context ctx = m.newContext(contextParams)) {
            int[] tokens = Perplexity.tokenize(ctx.tokenizer(), text);
            int nCtx = ctx.contextSize();
            err.printf(Locale.ROOT, "spillway: perplexity: %d tokens, %d chunks of n_ctx=%d, batch_size=%d%n",
                    tokens.length, tokens.length / nCtx, nCtx, Math.min(ctx.params().batchSize(), nCtx));
            err.flush();
            long t0 = System.nanoTime();
            Perplexity.Result r;
            try {
                r = Perplexity.compute(ctx, tokens, nCtx, (chunk, chunks, ppl) -> {
                    out.print(Perplexity.progress(chunk, ppl));
                    out.flush();
                });
            } finally {
                out.println();
                out.flush();
            }
            out.println(r.finalEstimate());
            out.flush();
            err.printf(Locale.ROOT, "spillway: %d chunks, %d tokens scored, in %.2f s%n", r.chunks(), r.scored(),
                    (System.nanoTime() - t0) / 1e9);
            err.flush();
        }
        return 0;
    }
}
