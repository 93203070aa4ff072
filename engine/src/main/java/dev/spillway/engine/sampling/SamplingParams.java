package dev.spillway.engine.sampling;

import java.util.SplittableRandom;

/**
 * How the next token is chosen from the logits.
 *
 * @param temperature 0 for greedy argmax; otherwise logits are divided by it before the softmax
 * @param topK keep the {@code topK} most likely tokens; 0 turns it off
 * @param topP keep the smallest set of most likely tokens whose probabilities add up to at least
 *     {@code topP} (in (0, 1]; 1 turns it off)
 * @param minP keep tokens at least {@code minP} times as likely as the most likely one (in [0, 1];
 *     0 turns it off)
 * @param repeatPenalty divide positive logits of recently accepted tokens by this, multiply negative
 *     ones by it (> 0; 1 turns it off)
 * @param repeatLastN how many of the most recently accepted tokens the penalty looks at (>= 0)
 * @param seed seeds the random draw: the same seed and the same logits give the same tokens
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                             int repeatLastN, long seed) {

    public static final float DEFAULT_TEMPERATURE = 0.8f;
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;
    public static final float DEFAULT_REPEAT_PENALTY = 1.0f;
    public static final int DEFAULT_REPEAT_LAST_N = 64;

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, not " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 turns it off), not " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1] (1 turns it off), not " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1] (0 turns it off), not " + minP);
        }
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeat_penalty must be a finite number > 0 (1 turns it off), not "
                    + repeatPenalty);
        }
        if (repeatLastN < 0) {
            throw new IllegalArgumentException("repeat_last_n must be >= 0, not " + repeatLastN);
        }
    }

    /** llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty) with a random seed. */
    public static SamplingParams defaults() {
        return defaults(new SplittableRandom().nextLong());
    }

    /** llama.cpp's defaults with the given seed. */
    public static SamplingParams defaults(long seed) {
        return new SamplingParams(DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MIN_P,
                DEFAULT_REPEAT_PENALTY, DEFAULT_REPEAT_LAST_N, seed);
    }

    /** Temperature 0: always the most likely token (after the repetition penalty, off here). */
    public static SamplingParams greedy() {
        return defaults(0).withTemperature(0);
    }

    public SamplingParams withTemperature(float value) {
        return new SamplingParams(value, topK, topP, minP, repeatPenalty, repeatLastN, seed);
    }

    public SamplingParams withTopK(int value) {
        return new SamplingParams(temperature, value, topP, minP, repeatPenalty, repeatLastN, seed);
    }

    public SamplingParams withTopP(float value) {
        return new SamplingParams(temperature, topK, value, minP, repeatPenalty, repeatLastN, seed);
    }

    public SamplingParams withMinP(float value) {
        return new SamplingParams(temperature, topK, topP, value, repeatPenalty, repeatLastN, seed);
    }

    public SamplingParams withRepeatPenalty(float penalty, int lastN) {
        return new SamplingParams(temperature, topK, topP, minP, penalty, lastN, seed);
    }

    public SamplingParams withSeed(long value) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, value);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}
