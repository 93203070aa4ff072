package dev.spillway.engine.sampling;

import java.util.Arrays;
import java.util.Objects;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Chooses the next token from a vector of logits. In order: the repetition penalty over the last
 * {@code repeatLastN} accepted tokens (each distinct token once: a positive logit is divided by the
 * penalty, a negative one multiplied, as llama.cpp does); then, at temperature 0, the argmax (ties
 * to the lowest id); otherwise top-k, softmax of logits / temperature, top-p (the smallest set of
 * most likely tokens reaching the mass, at least one), min-p, and a draw from what is left,
 * renormalized, with an {@code L64X128MixRandom} seeded from {@link SamplingParams#seed()}.
 *
 * <p>Unlike llama.cpp's default chain, which applies the temperature after top-p and min-p, the
 * temperature here shapes the probabilities top-p and min-p look at (as Hugging Face does).
 *
 * <p>Cost: one pass over the vocabulary, plus a heap of k entries for top-k; without top-k,
 * top-p selects growing heaps (64, 512, ...) of the best tokens until they hold the mass, so only a
 * flat distribution pays for a full sort. {@code exp} is evaluated only for tokens within a factor
 * 1e-20 of the most likely one; the others (and NaN logits) are never drawn.
 *
 * <p>Not thread-safe: one sampler per sequence.
 */
public final class Sampler {
    private static final String RANDOM_ALGORITHM = "L64X128MixRandom";
    /** ln(1e-20): tokens this much less likely than the best one are dropped without an exp. */
    private static final double LOG_NEGLIGIBLE = -46.0;

    private final SamplingParams params;
    private final int vocabSize;
    private final double invTemperature;
    private RandomGenerator random;
    /** Ring buffer of the last {@code repeatLastN} accepted tokens. */
    private final int[] history;
    private int historySize;
    private int historyNext;
    /** Scratch: the penalized logits; the candidate ids and their weights exp((l - max) / T); a copy of ids; sort keys. */
    private float[] penalized;
    private final int[] candidates;
    private final double[] weights;
    private int[] pool;
    private long[] keys;

    public Sampler(SamplingParams params, int vocabSize) {
        this.params = Objects.requireNonNull(params, "params");
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be > 0, not " + vocabSize);
        }
        this.vocabSize = vocabSize;
        this.invTemperature = params.isGreedy() ? 0 : 1.0 / params.temperature();
        this.history = new int[params.repeatLastN()];
        this.candidates = params.isGreedy() ? null : new int[vocabSize];
        this.weights = params.isGreedy() ? null : new double[vocabSize];
        reset();
    }

    public SamplingParams params() {
        return params;
    }

    /**
     * Chooses a token. Does not record it: call {@link #accept(int)} with the token actually used.
     *
     * @param logits one per vocabulary entry; not modified
     * @throws IllegalArgumentException if the length is not the vocabulary size or every logit is NaN
     */
    public int sample(float[] logits) {
        if (logits.length != vocabSize) {
            throw new IllegalArgumentException("expected " + vocabSize + " logits, got " + logits.length);
        }
        float[] l = applyRepetitionPenalty(logits);
        if (params.isGreedy()) {
            return argmax(l);
        }
        int topK = params.topK();
        boolean sorted = topK > 0 && topK < vocabSize;
        int n = sorted ? selectTop(l, null, vocabSize, topK) : 0;
        double max = sorted ? (n > 0 ? l[candidates[0]] : Double.NaN) : maxOf(l);
        if (!Double.isFinite(max)) { // all NaN, all -inf, or some +inf: no meaningful softmax
            return argmax(l);
        }
        // weights relative to the most likely token, whose weight is exp(0) = 1: min-p keeps weights >= minP
        double minWeight = params.minP();
        double sum = 0;
        if (sorted) {
            for (int j = 0; j < n; j++) {
                sum += weights[j] = weight(l[candidates[j]], max);
            }
        } else {
            // min-p and top-p both keep a prefix of the tokens sorted by probability, so min-p may go
            // first; the sum for top-p still counts every token
            for (int i = 0; i < vocabSize; i++) {
                double d = (l[i] - max) * invTemperature;
                if (d > LOG_NEGLIGIBLE) { // false for NaN
                    double w = Math.exp(d);
                    sum += w;
                    if (w >= minWeight) {
                        candidates[n] = i;
                        weights[n++] = w;
                    }
                }
            }
        }
        if (params.topP() < 1) {
            double mass = params.topP() * sum;
            n = sorted ? topPrefix(n, mass) : topPrefixBySelection(l, n, mass, max);
        }
        n = keepAtLeast(n, minWeight);
        return draw(n);
    }

    /** Records a token that was used, for the repetition penalty. */
    public void accept(int token) {
        if (token < 0 || token >= vocabSize) {
            throw new IllegalArgumentException("token " + token + " outside the vocabulary [0, " + vocabSize + ")");
        }
        if (history.length == 0) {
            return;
        }
        history[historyNext] = token;
        historyNext = (historyNext + 1) % history.length;
        historySize = Math.min(historySize + 1, history.length);
    }

    /** Forgets the accepted tokens and restarts the random sequence from the seed. */
    public void reset() {
        historySize = 0;
        historyNext = 0;
        random = RandomGeneratorFactory.of(RANDOM_ALGORITHM).create(params.seed());
    }

    private float[] applyRepetitionPenalty(float[] logits) {
        float penalty = params.repeatPenalty();
        if (penalty == 1 || historySize == 0) {
            return logits;
        }
        if (penalized == null) {
            penalized = new float[vocabSize];
        }
        System.arraycopy(logits, 0, penalized, 0, vocabSize);
        int[] recent = Arrays.copyOf(history, historySize); // the ring holds exactly the last N when full
        Arrays.sort(recent);
        for (int i = 0; i < recent.length; i++) {
            if (i > 0 && recent[i] == recent[i - 1]) {
                continue;
            }
            float v = penalized[recent[i]];
            penalized[recent[i]] = v > 0 ? v / penalty : v * penalty;
        }
        return penalized;
    }

    /** The index of the largest logit, the lowest one on ties; NaN ignored. */
    private static int argmax(float[] l) {
        int best = -1;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < l.length; i++) {
            if (l[i] > bestValue) { // false for NaN
                bestValue = l[i];
                best = i;
            }
        }
        if (best < 0) { // every logit is -inf or NaN
            for (int i = 0; i < l.length && best < 0; i++) {
                best = Float.isNaN(l[i]) ? -1 : i;
            }
            if (best < 0) {
                throw new IllegalArgumentException("every logit is NaN");
            }
        }
        return best;
    }

    /** The largest logit, NaN ignored (-inf if there is none). */
    private static double maxOf(float[] l) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : l) {
            if (v > max) {
                max = v;
            }
        }
        return max;
    }

    private double weight(float logit, double max) {
        return Math.exp((logit - max) * invTemperature);
    }

    /**
     * Fills {@code candidates[0, m)} with the best {@code m} (fewer if there are fewer) of the ids
     * {@code source[0, n)} (in increasing order; null for 0..n-1), best first, ties to the lower id,
     * in O(n log m); NaN logits are skipped. Returns how many.
     */
    private int selectTop(float[] l, int[] source, int n, int m) {
        // a max-heap of the m smallest keys seen (smallest key = best token); worst holds the logit
        // at its top once full: a later id needs a strictly greater logit to get in
        long[] heap = keys(m);
        int size = 0;
        int j = 0;
        for (; j < n && size < m; j++) {
            int i = source == null ? j : source[j];
            if (!Float.isNaN(l[i])) {
                heap[size] = key(l[i], i);
                siftUp(heap, size++);
            }
        }
        if (size == m) {
            float worst = l[(int) heap[0]];
            for (; j < n; j++) {
                int i = source == null ? j : source[j];
                float v = l[i];
                if (v > worst) { // false for NaN
                    heap[0] = key(v, i);
                    siftDown(heap, size);
                    worst = l[(int) heap[0]];
                }
            }
        }
        Arrays.sort(heap, 0, size);
        for (int r = 0; r < size; r++) {
            candidates[r] = (int) heap[r];
        }
        return size;
    }

    /**
     * Top-p over the candidates {@code [0, n)}, which are in id order: selects the best 64, 512, ...
     * of them until their weights reach {@code mass}. Leaves the kept prefix, best first, in
     * {@code candidates}/{@code weights} and returns its length.
     */
    private int topPrefixBySelection(float[] l, int n, double mass, double max) {
        if (pool == null) {
            pool = new int[vocabSize];
        }
        System.arraycopy(candidates, 0, pool, 0, n);
        for (int m = Math.min(n, 64); ; m = Math.min(n, m * 8)) {
            selectTop(l, pool, n, m);
            for (int j = 0; j < m; j++) {
                weights[j] = weight(l[candidates[j]], max);
            }
            int prefix = topPrefix(m, mass);
            if (prefix < m || m == n) {
                return prefix;
            }
        }
    }

    /**
     * How many of the sorted candidates it takes for their weights to reach {@code mass} (at least
     * 1); all n if they do not reach it.
     */
    private int topPrefix(int n, double mass) {
        double cumulative = 0;
        for (int j = 0; j < n; j++) {
            cumulative += weights[j];
            if (cumulative >= mass) {
                return j + 1;
            }
        }
        return n;
    }

    /** Keeps, in order, the candidates with weight >= {@code minWeight}; returns how many. */
    private int keepAtLeast(int n, double minWeight) {
        if (minWeight <= 0) {
            return n;
        }
        int kept = 0;
        for (int j = 0; j < n; j++) {
            if (weights[j] >= minWeight) {
                candidates[kept] = candidates[j];
                weights[kept++] = weights[j];
            }
        }
        assert kept > 0 : "the most likely token has weight 1";
        return kept;
    }

    private int draw(int n) {
        double total = 0;
        for (int j = 0; j < n; j++) {
            total += weights[j];
        }
        double u = random.nextDouble() * total;
        double cumulative = 0;
        for (int j = 0; j < n; j++) {
            cumulative += weights[j];
            if (u < cumulative) {
                return candidates[j];
            }
        }
        return candidates[n - 1]; // rounding: u landed on the total
    }

    private long[] keys(int n) {
        if (keys == null || keys.length < n) {
            keys = new long[n];
        }
        return keys;
    }

    /**
     * A sort key ordering tokens by logit, highest first, then by id: the logit's bits made
     * monotonic and inverted in the high half, the id in the low half.
     */
    private static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit + 0.0f); // + 0.0f turns -0.0 into 0.0
        int ascending = bits ^ (bits >> 31 & 0x7FFF_FFFF);
        return (long) ~ascending << 32 | id;
    }

    private static void siftUp(long[] heap, int i) {
        long v = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] >= v) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = v;
    }

    private static void siftDown(long[] heap, int size) {
        long v = heap[0];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] > heap[child]) {
                child++;
            }
            if (heap[child] <= v) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = v;
    }
}
