package dev.spillway.engine.model;

import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufTensorInfo;
import java.io.IOException;

/**
 * Hyper-parameters of a {@code llama}-architecture model (Llama 2/3, TinyLlama, Mistral), read from
 * GGUF metadata in one place.
 *
 * @param contextLength  {@code llama.context_length}: the training context
 * @param embeddingDim   {@code llama.embedding_length} (n_embd)
 * @param layerCount     {@code llama.block_count} (n_layer)
 * @param feedForwardDim {@code llama.feed_forward_length} (n_ff)
 * @param headCount      {@code llama.attention.head_count} (n_head)
 * @param kvHeadCount    {@code llama.attention.head_count_kv} (n_head_kv; = n_head without GQA)
 * @param headDim        {@code llama.attention.key_length}, else n_embd / n_head
 * @param vocabSize      rows of {@code token_embd.weight}
 * @param rmsEps         {@code llama.attention.layer_norm_rms_epsilon}
 * @param rope           rotary embedding parameters
 * @param tiedOutput     whether {@code output.weight} is absent and the embedding matrix is reused
 */
public record LlamaConfig(
        int contextLength,
        int embeddingDim,
        int layerCount,
        int feedForwardDim,
        int headCount,
        int kvHeadCount,
        int headDim,
        int vocabSize,
        float rmsEps,
        RopeSpec rope,
        boolean tiedOutput) {

    public static final String ARCHITECTURE = "llama";

    public AttentionShape attentionShape() {
        return new AttentionShape(headCount, kvHeadCount, headDim, (float) (1.0 / Math.sqrt(headDim)));
    }

    /** n_head * head_dim: width of Q and of the attention output. */
    public int qDim() {
        return headCount * headDim;
    }

    /** n_head_kv * head_dim: width of one token's K (or V) row. */
    public int kvDim() {
        return kvHeadCount * headDim;
    }

    /**
     * Reads the configuration of a llama-architecture file.
     *
     * @throws InvalidModelException when the architecture is not llama or a required key or tensor is
     *                             missing or inconsistent
     */
    public static LlamaConfig from(GgufFile file) throws IOException {
        String arch = file.getString("general.architecture", null);
        if (arch == null) {
            throw new InvalidModelException(file.path(), "missing general.architecture");
        }
        if (!ARCHITECTURE.equals(arch)) {
            throw new InvalidModelException(file.path(), "architecture '" + arch + "' is not supported (Spillway runs '" + ARCHITECTURE + "' models)");
        }
        String p = arch + ".";
        // Every count below sizes something later (layer lists, activations, the KV cache), so each is
        // checked against the tensors the file really has before it is returned.
        int nEmbd = required(file, p + "embedding_length");
        GgufTensorInfo embd = file.findTensor("token_embd.weight")
                .orElseThrow(() -> new InvalidModelException(file.path(), "missing tensor token_embd.weight"));
        long[] embdShape = embd.shape();
        if (embdShape.length != 2 || embdShape[0] != nEmbd) {
            throw new InvalidModelException(file.path(), p + "embedding_length " + nEmbd + " does not match token_embd.weight,"
                    + " whose shape is " + java.util.Arrays.toString(embdShape) + " (expected [" + nEmbd + ", n_vocab])");
        }
        if (embdShape[1] > Integer.MAX_VALUE) {
            throw new InvalidModelException(file.path(), "token_embd.weight has " + embdShape[1] + " rows: vocabulary too large");
        }
        int vocab = (int) embdShape[1];
        int nLayer = required(file, p + "block_count");
        checkLayers(file, p + "block_count", nLayer);
        int nFf = required(file, p + "feed_forward_length");
        int nHead = required(file, p + "attention.head_count");
        int nHeadKv = optional(file, p + "attention.head_count_kv", nHead);
        if (nHead % nHeadKv != 0) {
            throw new InvalidModelException(file.path(), p + "attention.head_count " + nHead + " is not a multiple of "
                    + p + "attention.head_count_kv " + nHeadKv);
        }
        if (file.getLong(p + "expert_count", 0) > 0) {
            throw new InvalidModelException(file.path(), "mixture-of-experts llama models are not supported");
        }
        if (file.find(p + "attention.key_length").isEmpty() && nEmbd % nHead != 0) {
            throw new InvalidModelException(file.path(), p + "attention.head_count " + nHead + " does not divide "
                    + p + "embedding_length " + nEmbd);
        }
        int headDim = optional(file, p + "attention.key_length", nEmbd / nHead);
        int valueDim = file.getInt(p + "attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new InvalidModelException(file.path(), "attention.value_length " + valueDim + " differs from key_length " + headDim + " (not supported)");
        }
        if ((long) nHead * headDim > Integer.MAX_VALUE) {
            throw new InvalidModelException(file.path(), p + "attention.head_count " + nHead + " x head dim " + headDim
                    + " is too large");
        }
        checkRows(file, "blk.0.attn_q.weight", nEmbd, (long) nHead * headDim,
                p + "attention.head_count " + nHead + " x head dim " + headDim);
        checkRows(file, "blk.0.attn_k.weight", nEmbd, (long) nHeadKv * headDim,
                p + "attention.head_count_kv " + nHeadKv + " x head dim " + headDim);
        checkRows(file, "blk.0.ffn_up.weight", nEmbd, nFf, p + "feed_forward_length " + nFf);
        // The training context sizes nothing by itself: a context allocates min(it, a cap) unless asked for more.
        int nCtxTrain = optional(file, p + "context_length", 2048);
        float eps = file.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f);
        if (!(eps > 0)) {
            throw new InvalidModelException(file.path(), "attention.layer_norm_rms_epsilon must be positive, got " + eps);
        }

        int ropeDims = file.getInt(p + "rope.dimension_count", headDim);
        if (ropeDims <= 0 || ropeDims > headDim || ropeDims % 2 != 0) {
            throw new InvalidModelException(file.path(), "rope.dimension_count " + ropeDims + " must be even and in 1.." + headDim);
        }
        float freqBase = file.getFloat(p + "rope.freq_base", 10000f);
        if (!(freqBase > 0) || Float.isInfinite(freqBase)) {
            throw new InvalidModelException(file.path(), p + "rope.freq_base must be positive and finite, got " + freqBase);
        }
        String scalingType = file.getString(p + "rope.scaling.type", "none");
        float freqScale = 1f;
        switch (scalingType) {
            case "none" -> { }
            case "linear" -> {
                float factor = file.getFloat(p + "rope.scaling.factor", 1f);
                if (!(factor > 0) || Float.isInfinite(factor)) {
                    throw new InvalidModelException(file.path(), "rope.scaling.factor must be positive, got " + factor);
                }
                freqScale = 1f / factor;
            }
            default -> throw new InvalidModelException(file.path(), "rope.scaling.type '" + scalingType + "' is not supported (none, linear)");
        }
        // Older files store the linear factor as rope.scale_linear.
        float scaleLinear = file.getFloat(p + "rope.scale_linear", 0f);
        if (scaleLinear > 0 && "none".equals(scalingType)) {
            freqScale = 1f / scaleLinear;
        }
        float[] freqFactors = null;
        var ropeFreqs = file.findTensor("rope_freqs.weight");
        if (ropeFreqs.isPresent()) {
            var view = file.view(ropeFreqs.get());
            if (view.elementCount() != ropeDims / 2 || view.type() != dev.spillway.engine.tensor.GgmlType.F32) {
                throw new InvalidModelException(file.path(), "rope_freqs.weight must be F32 with " + ropeDims / 2
                        + " elements, found " + view.type() + " " + view.elementCount());
            }
            freqFactors = new float[ropeDims / 2];
            dev.spillway.engine.tensor.Quants.dequantize(view.type(), view.data(), 0, freqFactors, 0, freqFactors.length);
        }
        RopeSpec rope = new RopeSpec(RopeSpec.Style.INTERLEAVED, ropeDims, freqBase, freqScale, freqFactors);
        boolean tied = file.findTensor("output.weight").isEmpty();
        return new LlamaConfig(nCtxTrain, nEmbd, nLayer, nFf, nHead, nHeadKv, headDim, vocab, eps, rope, tied);
    }

    /** A positive integer the file must hold under {@code key}. */
    private static int required(GgufFile file, String key) throws IOException {
        if (file.find(key).isEmpty()) {
            throw new InvalidModelException(file.path(), "missing " + key);
        }
        return optional(file, key, 0);
    }

    /** A positive integer under {@code key}, or {@code dflt} when absent. */
    private static int optional(GgufFile file, String key, int dflt) throws IOException {
        int value = file.getInt(key, dflt);
        if (value <= 0) {
            throw new InvalidModelException(file.path(), key + " must be positive, got " + value);
        }
        return value;
    }

    /**
     * Checks that the file has tensors for exactly layers {@code blk.0.} to {@code blk.<count-1>.}, so
     * that a corrupt or hostile count (say 2147483647) is refused before anything is sized from it.
     */
    private static void checkLayers(GgufFile file, String key, int count) throws IOException {
        java.util.BitSet present = new java.util.BitSet();
        for (GgufTensorInfo t : file.tensors()) {
            int layer = layerIndex(t.name());
            if (layer >= 0) {
                present.set(layer);
            }
        }
        int n = present.cardinality();
        if (count != n || present.nextClearBit(0) != n) {
            String found = n == 0 ? "no blk.N. layer tensors"
                    : present.nextClearBit(0) == n ? "tensors for " + n + " layer(s), blk.0. to blk." + (n - 1) + "."
                    : "tensors for layers " + present + ", with gaps";
            throw new InvalidModelException(file.path(), key + " is " + count + " but the file has " + found);
        }
    }

    /** N of a tensor named {@code blk.N.<rest>}, or -1 for other names. */
    private static int layerIndex(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int end = name.indexOf('.', 4);
        if (end <= 4 || end - 4 > 9) {
            return -1;
        }
        for (int i = 4; i < end; i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return -1;
            }
        }
        return Integer.parseInt(name, 4, end, 10);
    }

    /**
     * Checks that a 2-D weight {@code name}, when present, has {@code cols} columns and the
     * {@code rows} that {@code what} (the hyper-parameters at stake) implies. Absent tensors are
     * reported by the weight loader.
     */
    private static void checkRows(GgufFile file, String name, long cols, long rows, String what) throws IOException {
        GgufTensorInfo t = file.findTensor(name).orElse(null);
        if (t != null && (t.shape().length != 2 || t.shape()[0] != cols || t.shape()[1] != rows)) {
            throw new InvalidModelException(file.path(), what + " does not match " + name + ", whose shape is "
                    + java.util.Arrays.toString(t.shape()) + " (expected [" + cols + ", " + rows + "])");
        }
    }
}
