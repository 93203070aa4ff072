package dev.spillway.engine.model;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.KvTransfer;
import dev.spillway.engine.backend.ScratchShape;
import dev.spillway.engine.backend.Sizing;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.util.Closeables;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Everything one context allocates: per layer a KV cache on that layer's backend, per backend in
 * use a set of activation buffers for one batch, on the output backend the buffers of the output
 * head, and host staging memory for layer-boundary transfers. Closing it frees all of it.
 *
 * <p>What it allocates is listed once ({@link #layerBufferShapes}, {@link #outputBufferShapes}, one
 * KV cache per layer) and sized by each backend's {@link Sizing}; the memory estimator reads the
 * same lists through {@link #estimate}. When the scheduler spills a layer to another backend, a
 * {@link Move} takes its cache rows there.
 *
 * <p>Memory reports read a workspace from any thread without the model's lock (a memory listener
 * may ask from inside an op); the bookkeeping they read, and every change to it, is guarded by the
 * workspace's monitor.
 */
public final class Workspace implements AutoCloseable {

    /**
     * The shape of a context: what a workspace is allocated for.
     *
     * @param allLogits whether the output head runs over every row of a batch (the head's buffers
     *                  then hold n_batch rows), not only the last one
     */
    public record Shape(int contextSize, int batchSize, GgmlType keyType, GgmlType valueType, boolean allLogits) {
        public Shape {
            if (contextSize < 1 || batchSize < 1) {
                throw new IllegalArgumentException("context size and batch size must be positive: " + contextSize + ", " + batchSize);
            }
        }

        /** A shape whose output head takes only the batch's last row. */
        public Shape(int contextSize, int batchSize, GgmlType keyType, GgmlType valueType) {
            this(contextSize, batchSize, keyType, valueType, false);
        }

        /** Rows the output head's buffers hold: n_batch with {@link #allLogits}, else 1. */
        public int outputRows() {
            return allLogits ? batchSize : 1;
        }
    }

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
        final List<Activations> qkv;     // q, k, v: the outputs of one matmuls
        final List<Activations> gateUp;  // gate, up

        Buffers(Backend b, LlamaConfig c, int nBatch, List<AutoCloseable> owned) {
            List<Activations> a = allocate(b, layerBufferShapes(c, nBatch), owned);
            x = a.get(0);
            normed = a.get(1);
            q = a.get(2);
            k = a.get(3);
            v = a.get(4);
            attn = a.get(5);
            proj = a.get(6);
            gate = a.get(7);
            up = a.get(8);
            qkv = List.of(q, k, v);
            gateUp = List.of(gate, up);
        }
    }

    /** Buffers of the output head, on the output backend; r = {@link Shape#outputRows()}. */
    static final class OutputBuffers {
        final Activations last;    // (r, n_embd)  the batch's last residual row, or all its rows
        final Activations normed;  // (r, n_embd)
        final Activations logits;  // (r, n_vocab)

        OutputBuffers(Backend b, LlamaConfig c, Shape shape, List<AutoCloseable> owned) {
            List<Activations> a = allocate(b, outputBufferShapes(c, shape), owned);
            last = a.get(0);
            normed = a.get(1);
            logits = a.get(2);
        }
    }

    /** (rows, cols) of each {@link Buffers} field, in field order. */
    public static List<int[]> layerBufferShapes(LlamaConfig c, int nBatch) {
        int e = c.embeddingDim();
        return List.of(new int[] {nBatch, e}, new int[] {nBatch, e}, new int[] {nBatch, c.qDim()},
                new int[] {nBatch, c.kvDim()}, new int[] {nBatch, c.kvDim()}, new int[] {nBatch, c.qDim()},
                new int[] {nBatch, e}, new int[] {nBatch, c.feedForwardDim()}, new int[] {nBatch, c.feedForwardDim()});
    }

    /**
     * (rows, cols) of each {@link OutputBuffers} field: the last layer's backend hands the head one
     * row, or every row of the batch for a shape with {@link Shape#allLogits}.
     */
    public static List<int[]> outputBufferShapes(LlamaConfig c, Shape shape) {
        int r = shape.outputRows();
        return List.of(new int[] {r, c.embeddingDim()}, new int[] {r, c.embeddingDim()}, new int[] {r, c.vocabSize()});
    }

    /**
     * What a workspace of {@code shape} allocates on one backend of {@code sizing} that runs
     * {@code layers} layers (its KV caches, and its batch buffers if {@code layers > 0}) and, if
     * {@code output}, the output head's buffers.
     *
     * @param kvCacheBytes    the KV caches
     * @param activationBytes the activation buffers
     */
    public record Estimate(long kvCacheBytes, long activationBytes) {
        public long total() {
            return kvCacheBytes + activationBytes;
        }
    }

    /**
     * What sizes a backend's scratch for contexts of {@code shape} on {@code config}: the batch, the
     * context, the RoPE pairs, the heads and the widest weight row, with {@code threads} CPU workers.
     */
    public static ScratchShape scratchShape(LlamaConfig config, Shape shape, int threads) {
        int widestRow = Math.max(config.feedForwardDim(), Math.max(config.embeddingDim(), config.qDim()));
        return new ScratchShape(shape.batchSize(), shape.contextSize(), config.rope().rotatedDims() / 2, config.headCount(),
                config.headDim(), widestRow, threads);
    }

    /** See {@link Estimate}. */
    public static Estimate estimate(Sizing sizing, LlamaConfig c, Shape shape, int layers, boolean output) {
        long kv = layers * sizing.kvBytes(shape.contextSize(), c.kvDim(), shape.keyType(), shape.valueType());
        long act = 0;
        if (layers > 0) {
            for (int[] s : layerBufferShapes(c, shape.batchSize())) {
                act += sizing.activationBytes(s[0], s[1]);
            }
        }
        if (output) {
            for (int[] s : outputBufferShapes(c, shape)) {
                act += sizing.activationBytes(s[0], s[1]);
            }
        }
        return new Estimate(kv, act);
    }

    private final LlamaConfig config;
    private final Shape shape;
    private final KvCache[] caches;                     // n_layer, each on its layer's backend; null where not allocated
    private final Backend[] cacheBackends;              // n_layer
    private final Map<Backend, Buffers> buffers = new IdentityHashMap<>();
    private final Map<Backend, List<AutoCloseable>> ownedBy = new IdentityHashMap<>();
    private OutputBuffers output;
    private Backend outputBackend;
    final float[] hostRows;                             // (n_batch, n_embd) boundary staging
    private int filledRows;                             // cache rows written so far (the high-water mark)
    private boolean closed;

    /** Allocates a workspace; on failure releases whatever it had allocated before rethrowing. */
    public Workspace(LlamaConfig config, Placement placement, int contextSize, int batchSize,
                     GgmlType keyType, GgmlType valueType) {
        this(config, placement, new Shape(contextSize, batchSize, keyType, valueType), b -> true);
    }

    /**
     * Allocates the part of a workspace that lives on the backends {@code include} accepts; on failure
     * releases whatever it had allocated before rethrowing. A partial workspace cannot run the
     * graph: the scheduler allocates one to prove that a context fits on its devices.
     */
    public Workspace(LlamaConfig config, Placement placement, Shape shape, Predicate<Backend> include) {
        this.config = config;
        this.shape = shape;
        int n = config.layerCount();
        this.caches = new KvCache[n];
        this.cacheBackends = new Backend[n];
        try {
            for (int i = 0; i < n; i++) {
                Backend b = placement.layer(i);
                if (include.test(b)) {
                    caches[i] = own(b, b.allocateKv(shape.contextSize(), config.kvDim(), shape.keyType(), shape.valueType()));
                    cacheBackends[i] = b;
                }
            }
            for (Backend b : new LinkedHashSet<>(placement.layerBackends())) {
                if (include.test(b)) {
                    buffers(b, true);
                    b.reserveScratch(scratchShape(config, shape, 1));
                }
            }
            if (include.test(placement.outputBackend())) {
                outputBackend = placement.outputBackend();
                output = new OutputBuffers(outputBackend, config, shape, owned(outputBackend));
            }
            this.hostRows = new float[Math.multiplyExact(shape.batchSize(), config.embeddingDim())];
        } catch (RuntimeException | Error e) {
            closeOwned(e);
            throw e;
        }
    }

    private static List<Activations> allocate(Backend b, List<int[]> shapes, List<AutoCloseable> owned) {
        List<Activations> out = new ArrayList<>(shapes.size());
        for (int[] s : shapes) {
            Activations a = b.allocateActivations(s[0], s[1]);
            owned.add(a);
            out.add(a);
        }
        return out;
    }

    private List<AutoCloseable> owned(Backend b) {
        return ownedBy.computeIfAbsent(b, k -> new ArrayList<>());
    }

    private <T extends AutoCloseable> T own(Backend b, T resource) {
        owned(b).add(resource);
        return resource;
    }

    /** The buffers of {@code b}, allocated now if {@code create} and it has none. */
    private Buffers buffers(Backend b, boolean create) {
        Buffers buf = buffers.get(b);
        if (buf == null && create) {
            buf = new Buffers(b, config, shape.batchSize(), owned(b));
            buffers.put(b, buf);
        }
        return buf;
    }

    public Shape shape() {
        return shape;
    }

    public int batchSize() {
        return shape.batchSize();
    }

    public int contextSize() {
        return shape.contextSize();
    }

    KvCache cache(int layer) {
        return caches[layer];
    }

    Buffers buffers(Backend backend) {
        return buffers.get(backend);
    }

    OutputBuffers output() {
        return output;
    }

    /** Notes that cache rows {@code 0..rows-1} hold data (the graph calls it for every batch). */
    void filled(int rows) {
        filledRows = Math.max(filledRows, rows);
    }

    /** Bytes of all KV caches. */
    public synchronized long kvCacheBytes() {
        long sum = 0;
        for (KvCache c : caches) {
            sum += c == null ? 0 : c.allocatedBytes();
        }
        return sum;
    }

    /** Bytes of the KV caches on {@code backend}. */
    public synchronized long kvCacheBytes(Backend backend) {
        long sum = 0;
        for (int i = 0; i < caches.length; i++) {
            sum += caches[i] != null && cacheBackends[i] == backend ? caches[i].allocatedBytes() : 0;
        }
        return sum;
    }

    /** Bytes of all activation buffers (every backend) plus host staging. */
    public synchronized long activationBytes() {
        long sum = 4L * hostRows.length;
        for (Backend b : ownedBy.keySet()) {
            sum += activationBytes(b);
        }
        return sum;
    }

    /** Bytes of the activation buffers on {@code backend}. */
    public synchronized long activationBytes(Backend backend) {
        long sum = 0;
        for (AutoCloseable r : ownedBy.getOrDefault(backend, List.of())) {
            if (r instanceof Activations a) {
                sum += a.allocatedBytes();
            }
        }
        return sum;
    }

    /**
     * A move of part of this workspace to another backend, prepared but not yet in use: the new
     * memory is allocated and filled, the old is untouched. {@link #commit} puts it in use and frees
     * the old; {@link #abort} frees the new. Either, once.
     */
    public final class Move {
        private final Backend to;
        private final int layer;                        // -1: the output head
        private final KvCache freshCache;               // the layer's rows on 'to'
        private final OutputBuffers freshOutput;
        private final List<AutoCloseable> fresh = new ArrayList<>();   // everything allocated for this move
        private final boolean createdBuffers;
        private boolean done;

        private Move(int layer, Backend to) {
            this.to = to;
            this.layer = layer;
            boolean created = false;
            KvCache cache = null;
            OutputBuffers out = null;
            try {
                if (layer >= 0) {
                    cache = to.allocateKv(shape.contextSize(), config.kvDim(), shape.keyType(), shape.valueType());
                    fresh.add(cache);
                    if (buffers.get(to) == null) {
                        Buffers b = new Buffers(to, config, shape.batchSize(), fresh);
                        buffers.put(to, b);
                        created = true;
                    }
                    to.reserveScratch(scratchShape(config, shape, 1));
                    KvTransfer.copy(cacheBackends[layer], caches[layer], to, cache, filledRows);
                } else {
                    out = new OutputBuffers(to, config, shape, fresh);
                }
            } catch (RuntimeException | Error e) {
                if (created) {
                    buffers.remove(to);
                }
                Closeables.closeAllReversed(fresh, e);
                throw e;
            }
            this.freshCache = cache;
            this.freshOutput = out;
            this.createdBuffers = created;
        }

        /** Puts the new memory in use and frees what it replaces. Cannot fail for want of memory. */
        public void commit() {
            synchronized (Workspace.this) {
                commitLocked();
            }
        }

        private void commitLocked() {
            if (done) {
                return;
            }
            done = true;
            owned(to).addAll(fresh);
            List<AutoCloseable> old;
            if (layer >= 0) {
                old = List.of(caches[layer]);
                owned(cacheBackends[layer]).remove(caches[layer]);
                caches[layer] = freshCache;
                cacheBackends[layer] = to;
            } else {
                old = List.of(output.last, output.normed, output.logits);
                owned(outputBackend).removeAll(old);
                output = freshOutput;
                outputBackend = to;
            }
            Closeables.closeAllReversed(old, null);
        }

        /** Frees the new memory; the workspace is as before. */
        public void abort() {
            synchronized (Workspace.this) {
                abortLocked();
            }
        }

        private void abortLocked() {
            if (done) {
                return;
            }
            done = true;
            if (createdBuffers) {
                buffers.remove(to);
            }
            Closeables.closeAllReversed(fresh, null);
        }
    }

    /**
     * Prepares moving layer {@code layer}'s KV cache to {@code to}: allocates it there, copies the rows
     * written so far, and gives {@code to} batch buffers if it had none. On failure nothing new stays
     * allocated. The caller commits or aborts the move.
     */
    public Move prepareLayerMove(int layer, Backend to) {
        return new Move(layer, to);
    }

    /** Prepares putting the output head's buffers on {@code to} (they hold nothing between passes). */
    public Move prepareOutputMove(Backend to) {
        return new Move(-1, to);
    }

    /** The backend of layer {@code layer}'s KV cache. */
    public Backend cacheBackend(int layer) {
        return cacheBackends[layer];
    }

    /** Frees the batch buffers of every backend that {@code placement} no longer runs a layer on. */
    public synchronized void dropUnused(Placement placement) {
        Set<Backend> used = placement.backends();
        for (Backend b : List.copyOf(buffers.keySet())) {
            if (!placement.layerBackends().contains(b)) {
                Buffers buf = buffers.remove(b);
                List<AutoCloseable> gone = List.of(buf.x, buf.normed, buf.q, buf.k, buf.v, buf.attn, buf.proj, buf.gate, buf.up);
                owned(b).removeAll(gone);
                Closeables.closeAllReversed(gone, null);
            }
        }
        ownedBy.keySet().removeIf(b -> !used.contains(b) && ownedBy.get(b).isEmpty());
    }

    private synchronized void closeOwned(Throwable failure) {
        List<AutoCloseable> all = new ArrayList<>();
        ownedBy.values().forEach(all::addAll);
        try {
            Closeables.closeAllReversed(all, failure);
        } finally {
            ownedBy.clear();
            buffers.clear();
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
