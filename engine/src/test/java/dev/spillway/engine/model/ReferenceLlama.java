package dev.spillway.engine.model;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;

/**
 * A deliberately plain, single-token-at-a-time llama forward pass in float arithmetic: every weight
 * dequantized to a float[] with the scalar {@link Quants} codecs, textbook loops, an F32 KV cache.
 * It shares nothing with {@link LlamaGraph} or any backend, and is the oracle that the real engine's
 * logits are compared with.
 */
public final class ReferenceLlama {
    private final LlamaConfig c;
    private final float[] embedding;         // (n_vocab, n_embd)
    private final float[][] attnNorm;        // (n_layer, n_embd)
    private final float[][] wq;              // (n_layer, q_dim * n_embd)
    private final float[][] wk;              // (n_layer, kv_dim * n_embd)
    private final float[][] wv;              // (n_layer, kv_dim * n_embd)
    private final float[][] wo;              // (n_layer, n_embd * q_dim)
    private final float[][] ffnNorm;         // (n_layer, n_embd)
    private final float[][] wGate;           // (n_layer, n_ff * n_embd)
    private final float[][] wUp;             // (n_layer, n_ff * n_embd)
    private final float[][] wDown;           // (n_layer, n_embd * n_ff)
    private final float[] outNorm;           // (n_embd)
    private final float[] wOut;              // (n_vocab, n_embd)
    private final float[][] keyCache;        // (n_layer, n_ctx * kv_dim)
    private final float[][] valueCache;      // (n_layer, n_ctx * kv_dim)
    private int pos;

    public ReferenceLlama(GgufFile file, int contextSize) throws IOException {
        c = LlamaConfig.from(file);
        int n = c.layerCount();
        embedding = load(file, "token_embd.weight");
        attnNorm = new float[n][];
        wq = new float[n][];
        wk = new float[n][];
        wv = new float[n][];
        wo = new float[n][];
        ffnNorm = new float[n][];
        wGate = new float[n][];
        wUp = new float[n][];
        wDown = new float[n][];
        for (int l = 0; l < n; l++) {
            String p = "blk." + l + ".";
            attnNorm[l] = load(file, p + "attn_norm.weight");
            wq[l] = load(file, p + "attn_q.weight");
            wk[l] = load(file, p + "attn_k.weight");
            wv[l] = load(file, p + "attn_v.weight");
            wo[l] = load(file, p + "attn_output.weight");
            ffnNorm[l] = load(file, p + "ffn_norm.weight");
            wGate[l] = load(file, p + "ffn_gate.weight");
            wUp[l] = load(file, p + "ffn_up.weight");
            wDown[l] = load(file, p + "ffn_down.weight");
        }
        outNorm = load(file, "output_norm.weight");
        wOut = c.tiedOutput() ? embedding : load(file, "output.weight");
        keyCache = new float[n][contextSize * c.kvDim()];
        valueCache = new float[n][contextSize * c.kvDim()];
    }

    private static float[] load(GgufFile file, String name) {
        TensorView v = file.tensor(name);
        float[] out = new float[Math.toIntExact(v.elementCount())];
        Quants.dequantize(v.type(), v.data(), 0, out, 0, out.length);
        return out;
    }

    public LlamaConfig config() {
        return c;
    }

    /** Evaluates one token at the next position and returns its logits. */
    public float[] forward(int token) {
        int nEmbd = c.embeddingDim();
        int hd = c.headDim();
        int kvDim = c.kvDim();
        float[] x = new float[nEmbd];
        System.arraycopy(embedding, token * nEmbd, x, 0, nEmbd);
        for (int l = 0; l < c.layerCount(); l++) {
            float[] h = rmsNorm(x, attnNorm[l]);
            float[] q = matVec(wq[l], h, c.qDim());
            float[] k = matVec(wk[l], h, kvDim);
            float[] v = matVec(wv[l], h, kvDim);
            rope(q, c.headCount());
            rope(k, c.kvHeadCount());
            System.arraycopy(k, 0, keyCache[l], pos * kvDim, kvDim);
            System.arraycopy(v, 0, valueCache[l], pos * kvDim, kvDim);
            float[] att = new float[c.qDim()];
            int group = c.headCount() / c.kvHeadCount();
            for (int head = 0; head < c.headCount(); head++) {
                int kvHead = head / group;
                double[] scores = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double s = 0;
                    for (int i = 0; i < hd; i++) {
                        s += q[head * hd + i] * keyCache[l][t * kvDim + kvHead * hd + i];
                    }
                    scores[t] = s / Math.sqrt(hd);
                    max = Math.max(max, scores[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) {
                    scores[t] = Math.exp(scores[t] - max);
                    sum += scores[t];
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int t = 0; t <= pos; t++) {
                        acc += scores[t] / sum * valueCache[l][t * kvDim + kvHead * hd + i];
                    }
                    att[head * hd + i] = (float) acc;
                }
            }
            float[] o = matVec(wo[l], att, nEmbd);
            for (int i = 0; i < nEmbd; i++) {
                x[i] += o[i];
            }
            h = rmsNorm(x, ffnNorm[l]);
            float[] g = matVec(wGate[l], h, c.feedForwardDim());
            float[] u = matVec(wUp[l], h, c.feedForwardDim());
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
            }
            float[] d = matVec(wDown[l], g, nEmbd);
            for (int i = 0; i < nEmbd; i++) {
                x[i] += d[i];
            }
        }
        pos++;
        return matVec(wOut, rmsNorm(x, outNorm), c.vocabSize());
    }

    private float[] rmsNorm(float[] x, float[] gain) {
        double ss = 0;
        for (float v : x) {
            ss += (double) v * v;
        }
        double inv = 1.0 / Math.sqrt(ss / x.length + c.rmsEps());
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] * inv * gain[i]);
        }
        return out;
    }

    /** out[r] = sum_c w[r * cols + c] * x[c]. */
    private static float[] matVec(float[] w, float[] x, int rows) {
        int cols = x.length;
        float[] out = new float[rows];
        for (int r = 0; r < rows; r++) {
            double acc = 0;
            for (int col = 0; col < cols; col++) {
                acc += (double) w[r * cols + col] * x[col];
            }
            out[r] = (float) acc;
        }
        return out;
    }

    /** Interleaved ("normal") rope: pairs (2i, 2i+1) of each head rotated by pos * inverseFrequency(i). */
    private void rope(float[] x, int heads) {
        int hd = c.headDim();
        for (int head = 0; head < heads; head++) {
            for (int i = 0; i < c.rope().rotatedDims() / 2; i++) {
                double theta = pos * c.rope().inverseFrequency(i);
                double cos = Math.cos(theta);
                double sin = Math.sin(theta);
                int a = head * hd + 2 * i;
                double x0 = x[a];
                double x1 = x[a + 1];
                x[a] = (float) (x0 * cos - x1 * sin);
                x[a + 1] = (float) (x0 * sin + x1 * cos);
            }
        }
    }
}
