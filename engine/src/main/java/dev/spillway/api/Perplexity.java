package dev.spillway.api;

import dev.spillway.engine.tokenizer.Tokenizer;
import java.util.Locale;
import java.util.Objects;

/**
 * Perplexity of a model on a text, computed the way llama.cpp's {@code llama-perplexity} computes it
 * (its default mode, one sequence per chunk):
 *
 * <ol>
 *   <li>the whole text is tokenized once, with BOS when the model adds one;</li>
 *   <li>the tokens are cut into floor(tokens / n_ctx) chunks of n_ctx tokens (the rest is unused;
 *       at least two chunks' worth of tokens are required);</li>
 *   <li>each chunk is evaluated from an empty cache with its first token replaced by BOS;</li>
 *   <li>with {@code first = n_ctx / 2}, the logits at positions first .. n_ctx-2 score the tokens
 *       at first+1 .. n_ctx-1: each adds its negative log-likelihood {@code -log softmax(logits)[next]}
 *       (in double) to the sum, so every chunk scores n_ctx - first - 1 tokens;</li>
 *   <li>PPL = exp(mean NLL); its error is PPL × sqrt((mean(NLL²) − mean(NLL)²) / (count − 1)).</li>
 * </ol>
 *
 * <p>The context must have been created with {@link ContextParams#allLogits} and hold at least n_ctx
 * tokens; it is cleared before every chunk and left holding the last one.
 */
public final class Perplexity {

    /** Receives the running perplexity after each chunk (chunk is 1-based). */
    @FunctionalInterface
    public interface Listener {
        void chunkDone(int chunk, int chunks, double runningPerplexity);
    }

    /**
     * The outcome.
     *
     * @param tokens      tokens of the whole text (with BOS)
     * @param chunkSize   n_ctx
     * @param scored      tokens whose likelihood was counted (chunks × (n_ctx − n_ctx/2 − 1))
     * @param perplexity  exp of the mean negative log-likelihood
     * @param error       llama.cpp's "+/-" figure
     * @param running     the running perplexity after each chunk
     */
    public record Result(int tokens, int chunkSize, int scored, double perplexity, double error, double[] running) {
        public Result {
            running = running.clone();
        }

        public int chunks() {
            return running.length;
        }

        @Override
        public double[] running() {
            return running.clone();
        }

        /** llama.cpp's last line: {@code Final estimate: PPL = 5.1536 +/- 0.27585}. */
        public String finalEstimate() {
            return String.format(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f", perplexity, error);
        }
    }

    private Perplexity() {
    }

    /** Tokenizes {@code text} as llama-perplexity does: once, with BOS when the model adds one. */
    public static int[] tokenize(Tokenizer tokenizer, String text) {
        return tokenizer.encode(text, tokenizer.addBos(), false);
    }

    /** Tokenizes {@code text} and computes its perplexity in chunks of {@code chunkSize} tokens. */
    public static Result compute(Context ctx, String text, int chunkSize, Listener listener) {
        return compute(ctx, tokenize(ctx.tokenizer(), text), chunkSize, listener);
    }

    /**
     * Computes the perplexity of {@code tokens} (already tokenized, with BOS) in chunks of
     * {@code chunkSize} tokens.
     *
     * @throws IllegalArgumentException if chunkSize is below 3 or above the context size, or there are
     *                                  fewer than 2 × chunkSize tokens
     * @throws IllegalStateException    if the context was created without {@code allLogits}
     */
    public static Result compute(Context ctx, int[] tokens, int chunkSize, Listener listener) {
        Objects.requireNonNull(ctx, "ctx");
        Objects.requireNonNull(listener, "listener");
        if (!ctx.params().allLogits()) {
            throw new IllegalStateException("perplexity needs a context created with ContextParams.withAllLogits(true)");
        }
        if (chunkSize < 3) {
            throw new IllegalArgumentException("chunk size must be at least 3 tokens, got " + chunkSize);
        }
        if (chunkSize > ctx.contextSize()) {
            throw new IllegalArgumentException("chunk size " + chunkSize + " exceeds the context size " + ctx.contextSize());
        }
        if (tokens.length < 2L * chunkSize) {
            throw new IllegalArgumentException("the text tokenizes to " + tokens.length + " tokens; a context of "
                    + chunkSize + " needs at least " + 2L * chunkSize);
        }
        Tokenizer tokenizer = ctx.tokenizer();
        int vocab = tokenizer.vocabSize();
        int chunks = tokens.length / chunkSize;
        int first = chunkSize / 2;
        float[] logits = new float[Math.multiplyExact(chunkSize, vocab)];
        int[] chunk = new int[chunkSize];
        double[] running = new double[chunks];
        double nll = 0;
        double nll2 = 0;
        int count = 0;
        for (int c = 0; c < chunks; c++) {
            System.arraycopy(tokens, c * chunkSize, chunk, 0, chunkSize);
            if (tokenizer.addBos()) {
                chunk[0] = tokenizer.bosId();
            }
            ctx.clear();
            ctx.evaluateAll(chunk, logits);
            for (int i = first; i < chunkSize - 1; i++) {
                double v = negativeLogLikelihood(logits, i * vocab, vocab, chunk[i + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
            running[c] = Math.exp(nll / count);
            listener.chunkDone(c + 1, chunks, running[c]);
        }
        double mean = nll / count;
        double variance = nll2 / count - mean * mean;
        double ppl = Math.exp(mean);
        double error = variance > 0 ? Math.sqrt(variance / (count - 1)) * ppl : 0;
        return new Result(tokens.length, chunkSize, count, ppl, error, running);
    }

    /** {@code -log softmax(row)[token]} in double, for the row of {@code n} logits at {@code off}. */
    static double negativeLogLikelihood(float[] logits, int off, int n, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return Math.log(sum) - (logits[off + token] - max);
    }

    /** The progress line llama.cpp prints, {@code [1]12.3456,}, for one chunk. */
    public static String progress(int chunk, double runningPerplexity) {
        return String.format(Locale.ROOT, "[%d]%.4f,", chunk, runningPerplexity);
    }
}
