package dev.spillway.cli;

import dev.spillway.engine.sampling.SamplingParams;
import picocli.CommandLine.Option;

/** Sampling options, with llama.cpp's names and defaults. */
final class SamplingOptions {
    private static final SamplingParams D = SamplingParams.defaults();

    @Option(names = "--temp", paramLabel = "T", description = "Temperature; 0 = greedy. Default: ${DEFAULT-VALUE}.")
    float temperature = D.temperature();

    @Option(names = "--top-k", paramLabel = "K", description = "Top-k sampling (0 = off). Default: ${DEFAULT-VALUE}.")
    int topK = D.topK();

    @Option(names = "--top-p", paramLabel = "P", description = "Top-p (nucleus) sampling (1 = off). Default: ${DEFAULT-VALUE}.")
    float topP = D.topP();

    @Option(names = "--min-p", paramLabel = "P", description = "Min-p sampling (0 = off). Default: ${DEFAULT-VALUE}.")
    float minP = D.minP();

    @Option(names = "--repeat-penalty", paramLabel = "X", description = "Repetition penalty (1 = off). Default: ${DEFAULT-VALUE}.")
    float repeatPenalty = D.repeatPenalty();

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "Tokens the repetition penalty looks back over. Default: ${DEFAULT-VALUE}.")
    int repeatLastN = D.repeatLastN();

    @Option(names = {"-s", "--seed"}, paramLabel = "SEED", description = "Random seed (-1 = random). Default: ${DEFAULT-VALUE}.")
    long seed = -1;

    SamplingParams toParams() {
        long effectiveSeed = seed == -1 ? System.nanoTime() : seed;
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, effectiveSeed);
    }
}
