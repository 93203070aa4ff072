package dev.spillway.engine.model;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.util.Closeables;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one context allocates: per layer a KV cache on that layer's backend, per backend in
 * use a set of activation buffers for one batch, on the output backend the buffers of the output
 * head, and host staging memory for layer-boundary transfers. Closing it frees all of it.
 */
public final class Workspace implements AutoCloseable {

    /** The activation buffers of one backend, each holding up to n_batch token rows. */
    public static final class Buffers {
        final Activations x;       // (n_batch, n_embd)   residual stream
        final Activations normed;  // (n_batch, n_embd)   normalized input of attention / FFN
        final Activations q;       // (n_batch, n_head*head_dim)
        final Activations k;       // (n_batch, n_head_kv*head_dim)
        final Activations v;       // (n_batch, n_head_kv*head_dim)
        final Activations attn;    // (n_batch, n_head*head_dim) attention output
        final Activations proj;    // (n_batch, n_embd)   attn_output / ffn_down result
        final Activations gate;    // (n_batch, n_ff)
        final Activations up;      // (n_batch, n_ff)

        Buffers(Backend b, LlamaConfig c, int nBatch, List<AutoCloseable> owned) {
            x = own(owned, b.allocateActivations(nBatch, c.embeddingDim()));
            normed = own(owned, b.allocateActivations(nBatch, c.embeddingDim()));
            q = own(owned, b.allocateActivations(nBatch, c.qDim()));
            k = own(owned, b.allocateActivations(nBatch, c.kvDim()));
            v = own(owned, b.allocateActivations(nBatch, c.kvDim()));
            attn = own(owned, b.allocateActivations(nBatch, c.qDim()));
            proj = own(owned, b.allocateActivations(nBatch, c.embeddingDim()));
            gate = own(owned, b.allocateActivations(nBatch, c.feedForwardDim()));
            up = own(owned, b.allocateActivations(nBatch, c.feedForwardDim()));
        }
    }

    /** Buffers of the output head, on the output backend. */
    static final class OutputBuffers {
        final Activations last;    // (1, n_embd)  the batch's last residual row
        final Activations normed;  // (1, n_embd)
        final Activations logits;  // (1, n_vocab)

        OutputBuffers(Backend b, LlamaConfig c, List<AutoCloseable> owned) {
            last = own(owned, b.allocateActivations(1, c.embeddingDim()));
            normed = own(owned, b.allocateActivations(1, c.embeddingDim()));
            logits = own(owned, b.allocateActivations(1, c.vocabSize()));
        }
    }

    private final int batchSize;
    private final int contextSize;
    private final List<KvCache> caches;                 // n_layer, each on its layer's backend
    private final Map<Backend, Buffers> buffers = new IdentityHashMap<>();
    private final OutputBuffers output;
    final float[] hostRows;                             // (n_batch, n_embd) boundary staging
    private final List<AutoCloseable> owned = new ArrayList<>();
    private boolean closed;

    /**
     * Allocates a workspace; on failure releases whatever it had allocated before rethrowing.
     */
    public Workspace(LlamaConfig config, Placement placement, int contextSize, int batchSize,
                     GgmlType keyType, GgmlType valueType) {
        if (contextSize < 1 || batchSize < 1) {
            throw new IllegalArgumentException("context size and batch size must be positive: " + contextSize + ", " + batchSize);
        }
        this.batchSize = batchSize;
        this.contextSize = contextSize;
        try {
            List<KvCache> kv = new ArrayList<>(config.layerCount());
            for (int i = 0; i < config.layerCount(); i++) {
                kv.add(own(owned, placement.layer(i).allocateKv(contextSize, config.kvDim(), keyType, valueType)));
            }
            this.caches = List.copyOf(kv);
            for (Backend b : placement.layerBackends()) {
                if (!buffers.containsKey(b)) {
                    buffers.put(b, new Buffers(b, config, batchSize, owned));
                }
            }
            // The output head needs only its three one-row buffers: the last layer's backend hands it one row.
            this.output = new OutputBuffers(placement.outputBackend(), config, owned);
            this.hostRows = new float[Math.multiplyExact(batchSize, config.embeddingDim())];
        } catch (RuntimeException | Error e) {
            closeOwned(e);
            throw e;
        }
    }

    private static <T extends AutoCloseable> T own(List<AutoCloseable> owned, T resource) {
        owned.add(resource);
        return resource;
    }

    public int batchSize() {
        return batchSize;
    }

    public int contextSize() {
        return contextSize;
    }

    KvCache cache(int layer) {
        return caches.get(layer);
    }

    Buffers buffers(Backend backend) {
        return buffers.get(backend);
    }

    OutputBuffers output() {
        return output;
    }

    /** Bytes of all KV caches. */
    public long kvCacheBytes() {
        return caches.stream().mapToLong(KvCache::allocatedBytes).sum();
    }

    /** Bytes of all activation buffers (every backend) plus host staging. */
    public long activationBytes() {
        long sum = 4L * hostRows.length;
        for (AutoCloseable r : owned) {
            if (r instanceof Activations a) {
                sum += a.allocatedBytes();
            }
        }
        return sum;
    }

    private void closeOwned(Throwable failure) {
        try {
            Closeables.closeAllReversed(owned, failure);
        } finally {
            owned.clear();
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            closeOwned(null);
        }
    }
}
