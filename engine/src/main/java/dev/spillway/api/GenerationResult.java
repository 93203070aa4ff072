package dev.spillway.api;

/**
 * What one {@code generate} call produced, with its timings.
 *
 * @param text              the generated text (without the prompt)
 * @param tokens            the generated token ids (without an end-of-generation token)
 * @param promptTokens      tokens evaluated before the first sample (the prompt, plus a token left
 *                          pending by an earlier call)
 * @param stopReason        why generation stopped
 * @param promptNanos       time to evaluate the prompt
 * @param generationPasses  forward passes made while generating (the first token is sampled from the
 *                          prompt's logits and the last is kept pending, so usually {@code tokens - 1})
 * @param generationNanos   time spent sampling and evaluating while generating
 */
public record GenerationResult(String text, int[] tokens, int promptTokens, StopReason stopReason,
                               long promptNanos, int generationPasses, long generationNanos) {

    /** Prompt tokens evaluated per second. */
    public double promptTokensPerSecond() {
        return promptNanos == 0 ? 0 : promptTokens * 1e9 / promptNanos;
    }

    /** Generated tokens per second: forward passes (one token each) per second of generation time. */
    public double generationTokensPerSecond() {
        return generationNanos == 0 ? 0 : generationPasses * 1e9 / generationNanos;
    }
}
