package dev.spillway.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {

    /** No filtering at all: plain softmax sampling at the given temperature. */
    private static SamplingParams plain(float temperature, long seed) {
        return new SamplingParams(temperature, 0, 1f, 0f, 1f, 64, seed);
    }

    private static float[] randomLogits(SplittableRandom random, int n) {
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) (random.nextGaussian() * 3);
        }
        return l;
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double[] softmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static int[] histogram(Sampler sampler, float[] logits, int draws) {
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(logits)]++;
        }
        return counts;
    }

    /** Pearson's chi-square of observed counts against expected probabilities (cells with p = 0 must be empty). */
    private static double chiSquare(int[] counts, double[] p) {
        int total = Arrays.stream(counts).sum();
        double chi2 = 0;
        for (int i = 0; i < counts.length; i++) {
            if (p[i] == 0) {
                assertEquals(0, counts[i], "token " + i + " has probability 0 but was drawn");
                continue;
            }
            double expected = total * p[i];
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
        }
        return chi2;
    }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIdOnTies() {
        SplittableRandom random = new SplittableRandom(1);
        Sampler greedy = new Sampler(SamplingParams.greedy(), 1000);
        for (int i = 0; i < 50; i++) {
            float[] l = randomLogits(random, 1000);
            assertEquals(argmax(l), greedy.sample(l));
        }
        Sampler small = new Sampler(SamplingParams.greedy(), 4);
        assertEquals(1, small.sample(new float[] {1, 3, 3, 2}));
        assertEquals(1, small.sample(new float[] {Float.NaN, 1, 0, Float.NaN}), "NaN is ignored");
    }

    @Test
    void sameSeedSameTokens() {
        SplittableRandom random = new SplittableRandom(2);
        float[][] steps = new float[300][];
        for (int i = 0; i < steps.length; i++) {
            steps[i] = randomLogits(random, 500);
        }
        SamplingParams params = SamplingParams.defaults(42).withTemperature(1.5f).withRepeatPenalty(1.1f, 16);
        int[] a = run(new Sampler(params, 500), steps);
        int[] b = run(new Sampler(params, 500), steps);
        assertArrayEquals(a, b);
        int[] other = run(new Sampler(params.withSeed(43), 500), steps);
        assertNotEquals(Arrays.toString(a), Arrays.toString(other), "another seed should draw differently");

        Sampler reused = new Sampler(params, 500);
        run(reused, steps);
        reused.reset();
        assertArrayEquals(a, run(reused, steps), "reset restarts history and random sequence");
    }

    private static int[] run(Sampler sampler, float[][] steps) {
        int[] tokens = new int[steps.length];
        for (int i = 0; i < steps.length; i++) {
            tokens[i] = sampler.sample(steps[i]);
            sampler.accept(tokens[i]);
        }
        return tokens;
    }

    @Test
    void topKOneAndTinyTopPAndFullMinPAreGreedy() {
        SplittableRandom random = new SplittableRandom(3);
        Sampler topK1 = new Sampler(plain(2f, 5).withTopK(1), 300);
        Sampler tinyTopP = new Sampler(plain(2f, 6).withTopP(1e-6f), 300);
        Sampler tinyTopPWithK = new Sampler(plain(2f, 7).withTopK(40).withTopP(1e-6f), 300);
        Sampler fullMinP = new Sampler(plain(2f, 8).withMinP(1f), 300);
        for (int i = 0; i < 200; i++) {
            float[] l = randomLogits(random, 300);
            int best = argmax(l);
            assertEquals(best, topK1.sample(l));
            assertEquals(best, tinyTopP.sample(l));
            assertEquals(best, tinyTopPWithK.sample(l));
            assertEquals(best, fullMinP.sample(l));
        }
    }

    @Test
    void temperatureOneMatchesSoftmax() {
        float[] logits = {0.0f, 1.0f, 2.0f, -0.5f};
        int draws = 20_000;
        // chi-square with 3 degrees of freedom: P(chi2 > 16.27) = 0.001
        assertTrue(chiSquare(histogram(new Sampler(plain(1f, 11), 4), logits, draws), softmax(logits, 1)) < 16.27);
        assertTrue(chiSquare(histogram(new Sampler(plain(0.5f, 12), 4), logits, draws), softmax(logits, 0.5)) < 16.27);
        // and the test can tell: the counts at temperature 0.5 do not fit the temperature-1 softmax
        assertTrue(chiSquare(histogram(new Sampler(plain(0.5f, 13), 4), logits, draws), softmax(logits, 1)) > 100);
    }

    @Test
    void topKKeepsTheKBestInProportion() {
        float[] logits = {0.5f, 2f, 1f, 3f, -1f, 1.5f};
        Sampler sampler = new Sampler(plain(1f, 21).withTopK(3), logits.length);
        double[] p = softmax(logits, 1);
        double kept = p[3] + p[1] + p[5];
        double[] expected = new double[logits.length];
        for (int i : new int[] {3, 1, 5}) {
            expected[i] = p[i] / kept;
        }
        // chi-square with 2 degrees of freedom: P(chi2 > 13.82) = 0.001
        assertTrue(chiSquare(histogram(sampler, logits, 10_000), expected) < 13.82);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        float[] logits = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        // sorted: 0.5, 0.3 (cumulative 0.8 >= 0.75), then 0.15, 0.05 are dropped
        Sampler sampler = new Sampler(plain(1f, 31).withTopP(0.75f), 4);
        double[] expected = {0, 0.5 / 0.8, 0, 0.3 / 0.8};
        assertTrue(chiSquare(histogram(sampler, logits, 10_000), expected) < 10.83); // 1 df, P = 0.001
    }

    @Test
    void minPDropsUnlikelyTokens() {
        float[] logits = {(float) Math.log(1), (float) Math.log(0.5), (float) Math.log(0.09), (float) Math.log(0.2)};
        // keep p >= 0.1 * p_max: tokens 0, 1 and 3
        Sampler sampler = new Sampler(plain(1f, 41).withMinP(0.1f), 4);
        double[] expected = {1 / 1.7, 0.5 / 1.7, 0, 0.2 / 1.7};
        assertTrue(chiSquare(histogram(sampler, logits, 10_000), expected) < 13.82); // 2 df
    }

    @Test
    void filtersOverALargeVocabularyMatchASortingReference() {
        SplittableRandom random = new SplittableRandom(5);
        int n = 1000;
        float[] logits = randomLogits(random, n);
        for (SamplingParams params : new SamplingParams[] {
            plain(0.7f, 51).withTopP(0.9f).withMinP(0.02f),
            plain(1.3f, 52).withTopP(0.5f),
            plain(3f, 53).withTopP(0.99f), // flat: selection has to grow to most of the vocabulary
            plain(1f, 54).withTopK(25).withTopP(0.95f).withMinP(0.05f),
            plain(1f, 55).withTopK(25),
        }) {
            double[] expected = reference(logits, params);
            int[] counts = histogram(new Sampler(params, n), logits, 5_000);
            for (int i = 0; i < n; i++) {
                assertTrue(expected[i] > 0 || counts[i] == 0, params + " drew token " + i + ", which it should drop");
            }
            double[] chi2AndDf = pooledChiSquare(counts, expected);
            double df = chi2AndDf[1];
            assertTrue(df >= 3, params + " leaves too few cells to test");
            // about 5 standard deviations above the mean of a chi-square with df degrees of freedom
            assertTrue(chi2AndDf[0] < df + 5 * Math.sqrt(2 * df), params + ": chi2 " + chi2AndDf[0] + ", df " + df);
        }
    }

    /**
     * Chi-square over cells expecting at least 5 draws each, the others pooled into one cell;
     * returns {chi2, degrees of freedom}.
     */
    private static double[] pooledChiSquare(int[] counts, double[] p) {
        int total = Arrays.stream(counts).sum();
        double chi2 = 0;
        int cells = 0;
        double pooledExpected = 0;
        long pooledCount = 0;
        for (int i = 0; i < counts.length; i++) {
            double expected = total * p[i];
            if (expected >= 5) {
                chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
                cells++;
            } else {
                pooledExpected += expected;
                pooledCount += counts[i];
            }
        }
        if (pooledExpected >= 5) {
            chi2 += (pooledCount - pooledExpected) * (pooledCount - pooledExpected) / pooledExpected;
            cells++;
        }
        return new double[] {chi2, cells - 1};
    }

    /** The distribution the brief specifies, by a plain full sort. */
    private static double[] reference(float[] logits, SamplingParams params) {
        int n = logits.length;
        Integer[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble(i -> -logits[i])).toArray(Integer[]::new);
        int keep = params.topK() > 0 ? Math.min(params.topK(), n) : n;
        float[] kept = new float[keep];
        for (int j = 0; j < keep; j++) {
            kept[j] = logits[order[j]];
        }
        double[] p = softmax(kept, params.temperature());
        double cumulative = 0;
        int prefix = keep;
        for (int j = 0; j < keep; j++) {
            cumulative += p[j];
            if (cumulative >= params.topP()) {
                prefix = j + 1;
                break;
            }
        }
        double[] out = new double[n];
        double sum = 0;
        for (int j = 0; j < prefix; j++) {
            if (p[j] >= params.minP() * p[0]) {
                out[order[j]] = p[j];
                sum += p[j];
            }
        }
        for (int i = 0; i < n; i++) {
            out[i] /= sum;
        }
        return out;
    }

    @Test
    void repetitionPenaltyLowersRecentTokensAndCanFlipTheGreedyChoice() {
        SamplingParams params = SamplingParams.greedy().withRepeatPenalty(1.2f, 3);
        Sampler sampler = new Sampler(params, 5);
        float[] positive = {2.0f, 1.9f, 0f, -1f, 0.5f};
        float[] copy = positive.clone();
        assertEquals(0, sampler.sample(positive));
        sampler.accept(0);
        assertEquals(1, sampler.sample(positive), "2.0 / 1.2 < 1.9");
        assertArrayEquals(copy, positive, "logits are not modified");

        float[] negative = {-1.0f, -1.1f, -5f, -5f, -5f};
        assertEquals(1, sampler.sample(negative), "-1.0 * 1.2 < -1.1");

        // each distinct token is penalized once, however often it repeats
        sampler.accept(0);
        sampler.accept(0);
        assertEquals(1, sampler.sample(positive));
        assertEquals(0, sampler.sample(new float[] {2.0f, 1.6f, 0f, 0f, 0f}), "2.0 / 1.2 > 1.6: penalized once only");

        // the window holds the last 3 tokens: once 0 leaves it, it is no longer penalized
        sampler.accept(4);
        sampler.accept(4);
        sampler.accept(4);
        assertEquals(0, sampler.sample(positive));
    }

    @Test
    void infiniteLogitsAndBadInputs() {
        Sampler sampler = new Sampler(plain(1f, 61), 3);
        assertEquals(1, sampler.sample(new float[] {0, Float.POSITIVE_INFINITY, 1}));
        assertEquals(2, sampler.sample(new float[] {Float.NEGATIVE_INFINITY, Float.NaN, 0}));
        assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[4]));
        assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[] {Float.NaN, Float.NaN, Float.NaN}));
        assertThrows(IllegalArgumentException.class, () -> sampler.accept(3));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(SamplingParams.greedy(), 0));
    }

    @Test
    void paramsAreValidated() {
        SamplingParams d = SamplingParams.defaults(0);
        assertEquals(0.8f, d.temperature());
        assertEquals(40, d.topK());
        assertEquals(0.95f, d.topP());
        assertEquals(0.05f, d.minP());
        assertEquals(1.0f, d.repeatPenalty());
        assertEquals(64, d.repeatLastN());
        assertTrue(SamplingParams.greedy().isGreedy());
        assertThrows(IllegalArgumentException.class, () -> d.withTemperature(-0.1f));
        assertThrows(IllegalArgumentException.class, () -> d.withTemperature(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> d.withTopK(-1));
        assertThrows(IllegalArgumentException.class, () -> d.withTopP(0f));
        assertThrows(IllegalArgumentException.class, () -> d.withTopP(1.01f));
        assertThrows(IllegalArgumentException.class, () -> d.withMinP(-0.01f));
        assertThrows(IllegalArgumentException.class, () -> d.withMinP(1.5f));
        assertThrows(IllegalArgumentException.class, () -> d.withRepeatPenalty(0f, 64));
        assertThrows(IllegalArgumentException.class, () -> d.withRepeatPenalty(1.1f, -1));
    }
}
