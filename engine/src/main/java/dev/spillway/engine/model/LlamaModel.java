package dev.spillway.engine.model;

import dev.spillway.api.MemoryInfo;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.tokenizer.Tokenizer;
import dev.spillway.engine.util.Closeables;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded llama model: the open GGUF file, its configuration and tokenizer, and its weights on the
 * backends of a {@link Placement}. Owns the weights and, once loaded, the file (closing the model
 * unmaps it); the backends belong to whoever created them and must outlive the model.
 *
 * <p>Forward passes hold the {@link #forwardLock()} (shared: contexts run concurrently); moving
 * layers to another backend ({@link #moveToBackend}) holds it exclusively, so no pass sees a layer
 * half moved. The model knows the workspaces of its open contexts ({@link #register}) so that a
 * move can take their KV rows along.
 */
public final class LlamaModel implements AutoCloseable {
    private final GgufFile file;
    private final LlamaConfig config;
    private final Tokenizer tokenizer;
    private final LlamaWeights weights;
    private final LlamaGraph graph;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    // Added under the shared lock, removed under the exclusive one; read without a lock by memory reports.
    private final Set<Workspace> workspaces = new CopyOnWriteArraySet<>();
    private final List<Backend> alsoReported;   // backends the memory report covers even without a layer
    private boolean closed;

    private LlamaModel(GgufFile file, LlamaConfig config, Tokenizer tokenizer, LlamaWeights weights, Placement placement,
                       List<Backend> alsoReported) {
        this.alsoReported = List.copyOf(alsoReported);
        this.file = file;
        this.config = config;
        this.tokenizer = tokenizer;
        this.weights = weights;
        this.graph = new LlamaGraph(config, weights, placement);
    }

    /**
     * Loads the weights of {@code file} as {@code placement} says. On success the model owns
     * {@code file}; on failure nothing stays allocated and the caller still owns {@code file}.
     */
    public static LlamaModel load(GgufFile file, LlamaConfig config, Placement placement, LlamaWeights.Progress progress)
            throws IOException {
        return load(file, config, placement, progress, List.of());
    }

    /** Like {@link #load(GgufFile, LlamaConfig, Placement, LlamaWeights.Progress)}; the memory report also covers {@code alsoReported}. */
    public static LlamaModel load(GgufFile file, LlamaConfig config, Placement placement, LlamaWeights.Progress progress,
                                  List<Backend> alsoReported) throws IOException {
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizer.fromMetadata(file.metadata());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidModelException(file.path(), "tokenizer: " + e.getMessage());
        }
        if (tokenizer.vocabSize() != config.vocabSize()) {
            throw new InvalidModelException(file.path(), "tokenizer has " + tokenizer.vocabSize()
                    + " tokens but token_embd.weight has " + config.vocabSize() + " rows");
        }
        LlamaWeights weights = LlamaWeights.load(file, config, placement, progress);
        return new LlamaModel(file, config, tokenizer, weights, placement, alsoReported);
    }

    public GgufFile file() {
        return file;
    }

    public LlamaConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public LlamaGraph graph() {
        return graph;
    }

    public Placement placement() {
        return graph.placement();
    }

    /** Held (shared) by every forward pass; a layer move holds it exclusively. */
    public Lock forwardLock() {
        return lock.readLock();
    }

    /**
     * Allocates a context's workspace on the current placement and registers it, so that layer moves
     * take it along until {@link #closeWorkspace}. Holds the shared lock, so no move falls between
     * the two while other contexts go on generating.
     */
    public Workspace newWorkspace(Workspace.Shape shape) {
        lock.readLock().lock();
        try {
            Workspace ws = new Workspace(config, placement(), shape, b -> true);
            workspaces.add(ws);
            return ws;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Unregisters and frees a context's workspace under the exclusive lock: a forward pass of that
     * context still running on another thread finishes first, and none starts on freed memory.
     */
    public void closeWorkspace(Workspace ws) {
        lock.writeLock().lock();
        try {
            workspaces.remove(ws);
            ws.close();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The backends the memory report covers: those of the placement, and any others the owner named. */
    private List<Backend> reportedBackends() {
        List<Backend> all = new ArrayList<>(alsoReported);
        for (Backend b : placement().backends()) {
            if (!all.contains(b)) {
                all.add(b);
            }
        }
        return all;
    }

    /**
     * One pool per memory budget of the model's backends: the model's weights there, and the KV
     * caches and activations of {@code of} (the registered workspaces: the whole model). With
     * {@code withOther}, the rest of what the budget counts (scratch, staging, a file copy) is
     * reported as other.
     */
    public List<MemoryInfo.Pool> memoryPools(Collection<Workspace> of, boolean withOther) {
        {   // no lock: a memory listener may call this from an allocating thread (see MemoryWarning.Listener)
            Collection<Workspace> which = of == null ? workspaces : of;
            Map<MemoryAccount, long[]> sums = new LinkedHashMap<>();   // weights, kv, activations
            for (Backend b : reportedBackends()) {
                long[] s = sums.computeIfAbsent(b.memory(), a -> new long[3]);
                s[0] += weightBytes(b);
                for (Workspace ws : which) {
                    s[1] += ws.kvCacheBytes(b);
                    s[2] += ws.activationBytes(b);
                }
            }
            List<MemoryInfo.Pool> pools = new ArrayList<>();
            for (Map.Entry<MemoryAccount, long[]> e : sums.entrySet()) {
                MemoryAccount a = e.getKey();
                long[] s = e.getValue();
                long used = a.usedBytes();
                long other = withOther ? Math.max(0, used - s[0] - s[1] - s[2]) : 0;
                pools.add(new MemoryInfo.Pool(a.name(), s[0], s[1], s[2], other, used, a.budgetBytes()));
            }
            return pools;
        }
    }

    /** The workspaces of the open contexts. */
    public List<Workspace> workspaces() {
        return List.copyOf(workspaces);
    }

    /** Bytes the weights of {@code backend}'s layers and (if there) the output head take on it. */
    public long weightBytes(Backend backend) {
        Placement p = placement();
        long sum = 0;
        for (int i = 0; i < config.layerCount(); i++) {
            sum += p.layer(i) == backend ? weights.layer(i).allocatedBytes() : 0;
        }
        return sum + (p.outputBackend() == backend ? weights.outputAllocatedBytes() : 0);
    }

    /**
     * Runs {@code layers} (and the output head, if {@code output}) on {@code to} from now on: loads
     * their weights there and moves every registered workspace's KV rows for them, then frees what
     * the old backends held. In two phases: everything new is allocated and filled first, and only
     * then put in use, so a failure (out of memory on {@code to}) frees the new memory and leaves the
     * model as it was. Waits for running forward passes and holds the next ones until it is done.
     */
    public Placement moveToBackend(List<Integer> layers, boolean output, Backend to) throws IOException {
        lock.writeLock().lock();
        try {
            Placement before = placement();
            List<Integer> moving = layers.stream().filter(l -> before.layer(l) != to).distinct().toList();
            boolean movingOutput = output && before.outputBackend() != to;
            Map<Integer, LayerWeights> freshLayers = new LinkedHashMap<>();
            List<Weight> freshOutput = null;
            List<Workspace.Move> moves = new ArrayList<>();
            try {
                for (int layer : moving) {
                    freshLayers.put(layer, weights.loadLayer(layer, to));
                    for (Workspace ws : workspaces) {
                        moves.add(ws.prepareLayerMove(layer, to));
                    }
                }
                if (movingOutput) {
                    freshOutput = weights.loadOutput(to);
                    for (Workspace ws : workspaces) {
                        moves.add(ws.prepareOutputMove(to));
                    }
                }
            } catch (IOException | RuntimeException | Error e) {
                for (int i = moves.size() - 1; i >= 0; i--) {
                    moves.get(i).abort();
                }
                List<AutoCloseable> fresh = new ArrayList<>(freshLayers.values());
                if (freshOutput != null) {
                    fresh.addAll(freshOutput);
                }
                Closeables.closeAllReversed(fresh, e);
                throw e;
            }
            // Commit: nothing below allocates.
            List<AutoCloseable> released = new ArrayList<>();
            List<Backend> next = new ArrayList<>(before.layerBackends());
            for (Map.Entry<Integer, LayerWeights> e : freshLayers.entrySet()) {
                released.add(weights.swapLayer(e.getKey(), e.getValue()));
                next.set(e.getKey(), to);
            }
            if (freshOutput != null) {
                released.addAll(weights.swapOutput(freshOutput));
            }
            for (Workspace.Move m : moves) {
                m.commit();
            }
            Placement after = new Placement(next, movingOutput ? to : before.outputBackend());
            graph.placement(after);
            for (Workspace ws : workspaces) {
                ws.dropUnused(after);
            }
            Closeables.closeAllReversed(released, null);
            return after;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Bytes of the file's tensors. */
    public long modelBytes() {
        return LlamaWeights.fileBytes(file);
    }

    /**
     * Frees the weights but leaves the file open and owned by the caller: the loader's way to undo an
     * attempt that ran out of device memory before it tries another placement.
     */
    public void closeWeights() {
        if (closed) {
            return;
        }
        closed = true;
        weights.close();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            weights.close();
        } finally {
            file.close();
        }
    }
}
