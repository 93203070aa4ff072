package dev.spillway.engine.model;

import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.util.List;

/**
 * The llama forward pass, written once against the {@link Backend} ops.
 *
 * <p>Data flow of one batch of n tokens (n = 1 while generating):
 * <pre>
 *  token ids ──► embedding rows (host) ──write──► x on layer 0's backend
 *  for each layer l, on backend B(l):                     (read/write x at each backend change)
 *      normed = rms_norm(x) * attn_norm ; q, k, v = normed · Wq, Wk, Wv  (one rmsNormMatmuls op)
 *      rope(q), rope(k)
 *      kv_store(cache l, k, v) ; attn = attention(q, cache l)
 *      x += attn · Wo
 *      normed = rms_norm(x) * ffn_norm ; gate, up = normed · Wgate, Wup  (one rmsNormMatmuls op)
 *      x += (silu(gate) * up) · Wdown  (one swigluMatmul op)
 *  last row of x (every row for forwardAll) ──(read/write those rows if the output backend differs)──►
 *      output backend: rms_norm * output_norm · Woutput ──read──► logits (host)
 * </pre>
 */
public final class LlamaGraph {
    private final LlamaConfig config;
    private final LlamaWeights weights;
    private volatile Placement placement;   // replaced when the scheduler spills layers, under the model's write lock
    private final AttentionShape attention;

    public LlamaGraph(LlamaConfig config, LlamaWeights weights, Placement placement) {
        this.config = config;
        this.weights = weights;
        this.placement = placement;
        this.attention = config.attentionShape();
    }

    public LlamaConfig config() {
        return config;
    }

    public Placement placement() {
        return placement;
    }

    /** The placement from the next forward pass on; the weights must already be on its backends. */
    void placement(Placement next) {
        this.placement = next;
    }

    /**
     * Runs {@code count} tokens, {@code tokens[offset..offset+count)}, at positions
     * {@code startPos..startPos+count-1}, and writes the logits of the last one into {@code logits}.
     *
     * @throws IllegalArgumentException if a token id is out of range or the batch does not fit the workspace
     */
    public void forward(Workspace ws, int[] tokens, int offset, int count, int startPos, float[] logits) {
        run(ws, tokens, offset, count, startPos, logits, 1);
    }

    /**
     * Like {@link #forward}, but the output head runs over every row of the batch: {@code logits}
     * receives (count, n_vocab) logits, row i those of token {@code offset + i}. The workspace must
     * have been allocated with {@link Workspace.Shape#allLogits}.
     *
     * @throws IllegalArgumentException if the workspace holds one output row, or as {@link #forward}
     */
    public void forwardAll(Workspace ws, int[] tokens, int offset, int count, int startPos, float[] logits) {
        if (!ws.shape().allLogits()) {
            throw new IllegalArgumentException("the workspace's output head holds one row; allocate it with allLogits");
        }
        run(ws, tokens, offset, count, startPos, logits, count);
    }

    /** The forward pass; the output head takes the batch's last {@code outRows} rows. */
    private void run(Workspace ws, int[] tokens, int offset, int count, int startPos, float[] logits, int outRows) {
        if (count < 1 || count > ws.batchSize()) {
            throw new IllegalArgumentException("batch of " + count + " tokens, workspace holds 1.." + ws.batchSize());
        }
        if (startPos < 0 || startPos + count > ws.contextSize()) {
            throw new IllegalArgumentException("positions " + startPos + ".." + (startPos + count - 1)
                    + " exceed the context size " + ws.contextSize());
        }
        if (logits.length < (long) outRows * config.vocabSize()) {
            throw new IllegalArgumentException("logits array holds " + logits.length + ", " + outRows
                    + " row(s) of the vocabulary need " + (long) outRows * config.vocabSize());
        }
        embed(tokens, offset, count, ws.hostRows);
        ws.filled(startPos + count);
        Placement placement = this.placement;

        Backend current = null;
        for (int l = 0; l < config.layerCount(); l++) {
            Backend b = placement.layer(l);
            Workspace.Buffers buf = ws.buffers(b);
            if (b != current) {
                moveResidual(ws, current, b, count);
                current = b;
            }
            layer(b, buf, weights.layer(l), ws.cache(l), startPos, count);
        }

        Backend out = placement.outputBackend();
        Workspace.OutputBuffers head = ws.output();
        Workspace.Buffers last = ws.buffers(current);
        int first = count - outRows;
        if (out == current) {
            out.copyRows(head.last, 0, last.x, first, outRows);
        } else {
            // Only the rows the head needs cross (while generating, one row, not the batch).
            // proj is free once the last layer has added it into x.
            current.copyRows(last.proj, 0, last.x, first, outRows);
            current.read(last.proj, ws.hostRows, outRows);
            out.write(head.last, ws.hostRows, outRows);
        }
        out.rmsNormMatmuls(head.normed, head.last, weights.outputNorm(), config.rmsEps(), List.of(head.logits),
                List.of(weights.output()), outRows);
        out.read(head.logits, logits, outRows);
    }

    /** One transformer block on backend {@code b}. */
    private void layer(Backend b, Workspace.Buffers s, LayerWeights w, KvCache cache, int startPos, int n) {
        float eps = config.rmsEps();
        // attention
        b.rmsNormMatmuls(s.normed, s.x, w.attnNorm(), eps, s.qkv, w.qkv(), n);
        b.ropeQk(s.q, s.k, n, attention, startPos, config.rope());
        b.kvStore(cache, s.k, s.v, startPos, n);
        b.attention(s.attn, s.q, cache, attention, startPos, n);
        b.matmul(s.proj, s.attn, w.attnOutput(), n);
        b.add(s.x, s.proj, n);
        // feed-forward
        b.rmsNormMatmuls(s.normed, s.x, w.ffnNorm(), eps, s.gateUp, w.gateUp(), n);
        b.swigluMatmul(s.proj, s.gate, s.up, w.ffnDown(), n);
        b.add(s.x, s.proj, n);
    }

    /** Puts the residual stream on {@code to}: from the host rows at the start, else through the host. */
    private void moveResidual(Workspace ws, Backend from, Backend to, int n) {
        if (from == to) {
            return;
        }
        if (from != null) {
            from.read(ws.buffers(from).x, ws.hostRows, n);
        }
        to.write(ws.buffers(to).x, ws.hostRows, n);
    }

    /** Looks the embedding rows of the tokens up on the host, decoding the file's type. */
    private void embed(int[] tokens, int offset, int count, float[] dst) {
        TensorView table = weights.tokenEmbedding();   // (n_vocab rows, n_embd)
        int nEmbd = config.embeddingDim();
        long rowBytes = table.rowBytes();
        for (int i = 0; i < count; i++) {
            int id = tokens[offset + i];
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at index " + (offset + i)
                        + " is outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
            Quants.dequantize(table.type(), table.data(), id * rowBytes, dst, i * nEmbd, nEmbd);
        }
    }
}
