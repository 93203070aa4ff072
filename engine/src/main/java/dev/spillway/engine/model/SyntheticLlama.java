package dev.spillway.engine.model;

import dev.spillway.engine.gguf.GgufArray;
import dev.spillway.engine.gguf.GgufValueType;
import dev.spillway.engine.gguf.GgufWriter;
import dev.spillway.engine.tensor.GgmlType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Writes Llama-shaped GGUF files with random weights: for tests (every weight type against a float
 * reference), benchmarks (TinyLlama-1.1B shapes) and the CLI's demo model. The text such a model
 * produces is noise; its shapes, types and memory behaviour are those of a real model.
 *
 * <p>Weights are drawn from N(0, 1/fan_in) so activations keep a sane scale through the layers; norm
 * gains are 1 plus small noise. Each tensor gets its own generator seeded from the spec's seed and the
 * tensor's name, so files are reproducible. The tokenizer is SentencePiece-style ("llama"): {@code
 * <unk>}, {@code <s>}, {@code </s>}, the 256 byte tokens, then word pieces.
 */
public final class SyntheticLlama {
    /** Bumped whenever the generated content changes, so cached files are regenerated. */
    public static final int FORMAT_REVISION = 2;

    private SyntheticLlama() {
    }

    /**
     * @param embeddingDim   n_embd
     * @param layerCount     n_layer
     * @param feedForwardDim n_ff
     * @param headCount      n_head
     * @param kvHeadCount    n_head_kv
     * @param vocabSize      n_vocab (at least 259: specials and byte tokens)
     * @param contextLength  llama.context_length
     * @param weightType     type of the 2-D weight matrices and the embedding; norms are F32
     * @param tiedOutput     omit output.weight (the embedding is reused)
     * @param seed           random seed
     */
    public record Spec(int embeddingDim, int layerCount, int feedForwardDim, int headCount, int kvHeadCount,
                       int vocabSize, int contextLength, GgmlType weightType, boolean tiedOutput, long seed) {
        public Spec {
            if (vocabSize < 259) {
                throw new IllegalArgumentException("vocabulary needs at least 259 tokens (3 specials + 256 bytes)");
            }
            if (embeddingDim % headCount != 0 || headCount % kvHeadCount != 0) {
                throw new IllegalArgumentException("n_embd must divide by n_head and n_head by n_head_kv");
            }
        }

        public Spec withWeightType(GgmlType type) {
            return new Spec(embeddingDim, layerCount, feedForwardDim, headCount, kvHeadCount, vocabSize, contextLength,
                    type, tiedOutput, seed);
        }

        /** TinyLlama-1.1B's shapes: 22 layers, n_embd 2048, n_ff 5632, 32 heads, 4 KV heads, vocab 32000. */
        public static Spec tinyLlama(GgmlType type) {
            return new Spec(2048, 22, 5632, 32, 4, 32000, 2048, type, false, 1);
        }

        /** Llama-2-7B's shapes: 32 layers, n_embd 4096, n_ff 11008, 32 heads and as many KV heads, vocab 32000. */
        public static Spec llama2_7b(GgmlType type) {
            return new Spec(4096, 32, 11008, 32, 32, 32000, 4096, type, false, 1);
        }

        /** The CLI's demo model: about 125 MB in Q8_0. */
        public static Spec demo() {
            return new Spec(768, 16, 2048, 12, 4, 8192, 2048, GgmlType.Q8_0, false, 7);
        }

        /** A file name that identifies this spec, for caching generated files. */
        public String fileName() {
            return String.format("synthetic-v%d-%dx%d-ff%d-h%d-kv%d-v%d-%s%s-s%d.gguf", FORMAT_REVISION, embeddingDim,
                    layerCount, feedForwardDim, headCount, kvHeadCount, vocabSize, weightType.name().toLowerCase(),
                    tiedOutput ? "-tied" : "", seed);
        }

        /** Parameters (elements of every tensor). */
        public long parameterCount() {
            long nEmbd = embeddingDim;
            long kvDim = (long) kvHeadCount * (embeddingDim / headCount);
            long perLayer = 2 * nEmbd + 2 * nEmbd * nEmbd + 2 * nEmbd * kvDim + 3 * nEmbd * feedForwardDim;
            return layerCount * perLayer + nEmbd + (tiedOutput ? 1 : 2) * nEmbd * vocabSize;
        }
    }

    /** Writes the model described by {@code spec} to {@code path}. */
    public static void write(Spec spec, Path path) throws IOException {
        int nEmbd = spec.embeddingDim();
        int headDim = nEmbd / spec.headCount();
        int kvDim = spec.kvHeadCount() * headDim;
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.name", "spillway-synthetic-" + nEmbd + "x" + spec.layerCount() + "-" + spec.weightType());
        w.putUint32("general.file_type", fileType(spec.weightType()));
        w.putUint32("llama.context_length", spec.contextLength());
        w.putUint32("llama.embedding_length", nEmbd);
        w.putUint32("llama.block_count", spec.layerCount());
        w.putUint32("llama.feed_forward_length", spec.feedForwardDim());
        w.putUint32("llama.rope.dimension_count", headDim);
        w.putUint32("llama.attention.head_count", spec.headCount());
        w.putUint32("llama.attention.head_count_kv", spec.kvHeadCount());
        w.putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.putFloat32("llama.rope.freq_base", 10000f);
        putVocabulary(w, spec.vocabSize(), spec.seed());

        GgmlType t = spec.weightType();
        matrix(w, spec, "token_embd.weight", t, nEmbd, spec.vocabSize(), 1.0);
        for (int l = 0; l < spec.layerCount(); l++) {
            String p = "blk." + l + ".";
            norm(w, spec, p + "attn_norm.weight", nEmbd);
            matrix(w, spec, p + "attn_q.weight", t, nEmbd, nEmbd, nEmbd);
            matrix(w, spec, p + "attn_k.weight", t, nEmbd, kvDim, nEmbd);
            matrix(w, spec, p + "attn_v.weight", t, nEmbd, kvDim, nEmbd);
            matrix(w, spec, p + "attn_output.weight", t, nEmbd, nEmbd, nEmbd);
            norm(w, spec, p + "ffn_norm.weight", nEmbd);
            matrix(w, spec, p + "ffn_gate.weight", t, nEmbd, spec.feedForwardDim(), nEmbd);
            matrix(w, spec, p + "ffn_up.weight", t, nEmbd, spec.feedForwardDim(), nEmbd);
            matrix(w, spec, p + "ffn_down.weight", t, spec.feedForwardDim(), nEmbd, spec.feedForwardDim());
        }
        norm(w, spec, "output_norm.weight", nEmbd);
        if (!spec.tiedOutput()) {
            matrix(w, spec, "output.weight", t, nEmbd, spec.vocabSize(), nEmbd);
        }
        w.write(path);
    }

    /**
     * {@code general.file_type}: llama.cpp's {@code enum llama_ftype} value for a file whose matrices
     * are all of {@code type} (ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3, MOSTLY_Q8_0 7,
     * MOSTLY_Q4_K_S 14, MOSTLY_Q5_K_S 16, MOSTLY_Q6_K 18, MOSTLY_BF16 32). It is not the ggml type id.
     */
    static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q4_K -> 14;
            case Q5_K -> 16;
            case Q6_K -> 18;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("synthetic models are written in computable types, not " + type);
        };
    }

    /** A (cols, rows) matrix with N(0, 1/fanIn) entries. */
    private static void matrix(GgufWriter w, Spec spec, String name, GgmlType type, int cols, int rows, double fanIn) {
        SplittableRandom rng = new SplittableRandom(spec.seed() * 31 + name.hashCode());
        double std = 1.0 / Math.sqrt(fanIn);
        w.addTensor(name, type, new long[] {cols, rows}, (firstRow, rowCount, dst) -> {
            for (int i = 0; i < rowCount * cols; i++) {
                dst[i] = (float) (gaussian(rng) * std);
            }
        });
    }

    private static void norm(GgufWriter w, Spec spec, String name, int dim) {
        SplittableRandom rng = new SplittableRandom(spec.seed() * 31 + name.hashCode());
        float[] gain = new float[dim];
        for (int i = 0; i < dim; i++) {
            gain[i] = (float) (1.0 + 0.1 * gaussian(rng));
        }
        w.addTensor(name, GgmlType.F32, new long[] {dim}, gain);
    }

    private static double gaussian(SplittableRandom rng) {
        // Box-Muller; SplittableRandom has no nextGaussian of its own in older JDKs' contract.
        double u = 1.0 - rng.nextDouble();
        double v = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** A SentencePiece-style vocabulary: specials, 256 byte tokens, single characters, then random pieces. */
    private static void putVocabulary(GgufWriter w, int size, long seed) {
        List<String> tokens = new ArrayList<>(size);
        List<Integer> types = new ArrayList<>(size);
        tokens.add("<unk>");
        types.add(2);   // unknown
        tokens.add("<s>");
        types.add(3);   // control
        tokens.add("</s>");
        types.add(3);
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6);   // byte
        }
        Set<String> pieces = new LinkedHashSet<>();
        String letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'";
        pieces.add("\u2581");
        for (char c : letters.toCharArray()) {
            pieces.add(String.valueOf(c));
            pieces.add("\u2581" + c);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        String consonants = "bcdfghjklmnprstvwy";
        String vowels = "aeiou";
        while (tokens.size() + pieces.size() < size) {
            StringBuilder sb = new StringBuilder(rng.nextBoolean() ? "\u2581" : "");
            int syllables = 1 + rng.nextInt(3);
            for (int s = 0; s < syllables; s++) {
                sb.append(consonants.charAt(rng.nextInt(consonants.length()))).append(vowels.charAt(rng.nextInt(vowels.length())));
            }
            pieces.add(sb.toString());
        }
        for (String p : pieces) {
            if (tokens.size() == size) {
                break;
            }
            tokens.add(p);
            types.add(1);   // normal
        }
        float[] scores = new float[size];
        int[] typeIds = new int[size];
        for (int i = 0; i < size; i++) {
            // Longer pieces score higher so that merges prefer them; specials and bytes score 0.
            scores[i] = types.get(i) == 1 ? -1000f + tokens.get(i).length() * 10f - i * 1e-3f : 0f;
            typeIds[i] = types.get(i);
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.putArray("tokenizer.ggml.tokens", new GgufArray(GgufValueType.STRING, tokens.toArray(String[]::new)));
        w.putArray("tokenizer.ggml.scores", new GgufArray(GgufValueType.FLOAT32, scores));
        w.putArray("tokenizer.ggml.token_type", new GgufArray(GgufValueType.INT32, typeIds));
        w.putUint32("tokenizer.ggml.bos_token_id", 1);
        w.putUint32("tokenizer.ggml.eos_token_id", 2);
        w.putUint32("tokenizer.ggml.unknown_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
    }
}
