package dev.spillway.cpu;

import dev.spillway.cpu.kernel.Attention;
import dev.spillway.cpu.kernel.KvRows;
import dev.spillway.cpu.kernel.MatMat;
import dev.spillway.cpu.kernel.MatVec;
import dev.spillway.cpu.kernel.MatVecQ8;
import dev.spillway.cpu.kernel.PackedQ4_0;
import dev.spillway.cpu.kernel.PackedQ4_1;
import dev.spillway.cpu.kernel.PackedQ4_K;
import dev.spillway.cpu.kernel.PackedQ5_K;
import dev.spillway.cpu.kernel.PackedQ6_K;
import dev.spillway.cpu.kernel.PackedQ8_0;
import dev.spillway.cpu.kernel.RopeTable;
import dev.spillway.cpu.kernel.RowGroups;
import dev.spillway.cpu.kernel.Simd;
import dev.spillway.cpu.kernel.VectorOps;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.Op;
import dev.spillway.engine.backend.OpChecks;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.ScratchShape;
import dev.spillway.engine.backend.SerializedBackend;
import dev.spillway.engine.backend.Sizing;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CPU backend: Vector API kernels over zero-copy weight views, heap activations and off-heap
 * K/V caches, run on a small worker pool that this backend owns.
 *
 * <p>Every op (and every allocation and release) holds one lock ({@link SerializedBackend}, which
 * also checks the handles and shapes before an op runs here), so calls from several contexts are
 * serialized and the pool runs one op at a time. Matrix products are split over output rows,
 * attention over (token, KV head), row ops over tokens.
 */
public final class CpuBackend extends SerializedBackend<CpuActivations, CpuWeight, CpuKvCache> {

    /**
     * @param threads threads that run an op, the caller included (so {@code threads - 1} workers are started)
     * @param memory  the host budget every allocation of this backend is counted in (KV caches,
     *                activations, scratch, packed weights); other weights are views of the file and
     *                cost nothing here
     * @param exact   keep every matrix product in floating point on the activations as they are;
     *                otherwise products with Q8_0 weights, and Q4_0, Q4_1 and the K-quants' when packed, round the activations to
     *                8-bit blocks, as llama.cpp does: one token takes the integer path
     *                ({@link MatVecQ8}, {@link PackedQ4_0}, {@link PackedQ4_1}, {@link PackedQ8_0}, {@link PackedQ4_K}, {@link PackedQ5_K}, {@link PackedQ6_K}); a batch runs the
     *                packed kernels on the same rounded activations, or multiplies them in floats
     * @param repack  copy Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights whose rows come in whole groups into
     *                {@link RowGroups}' layout at load time (memory this backend owns and counts, instead of a view of
     *                the file); ignored when {@code exact}, whose float kernels read the file's layout
     */
    public record Options(int threads, MemoryAccount memory, boolean exact, boolean repack) {
        public Options {
            if (threads < 1) {
                throw new IllegalArgumentException("cpu backend threads must be >= 1, got " + threads);
            }
            Objects.requireNonNull(memory, "memory");
        }

        /** {@code threads} threads, allocations counted in an unlimited, unwatched account, the integer path and repacking on. */
        public Options(int threads) {
            this(threads, MemoryAccount.unlimited("host"), false, true);
        }

        /** The integer path and repacking on. */
        public Options(int threads, MemoryAccount memory) {
            this(threads, memory, false, true);
        }

        public Options withExact(boolean value) {
            return new Options(threads, memory, value, repack);
        }

        public Options withRepack(boolean value) {
            return new Options(threads, memory, exact, value);
        }

        /** One thread per available processor. */
        public static Options defaults() {
            return new Options(Runtime.getRuntime().availableProcessors());
        }

        public Options withMemory(MemoryAccount account) {
            return new Options(threads, account, exact, repack);
        }

        /** Whether Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights get packed: repacking asked for, and the integer path on. */
        public boolean packs() {
            return repack && !exact;
        }

        /** What a backend with these options allocates. */
        public Sizing sizing() {
            return CpuBackend.sizing(packs());
        }
    }

    /**
     * What the CPU backend allocates without repacking: nothing for weights (zero-copy views of the
     * file), K/V caches off-heap and activations on the heap at their exact sizes, and per thread
     * scratch that grows with the widest matrix and the longest attention (estimated here for the
     * widest common shapes).
     */
    public static final Sizing SIZING = sizing(false);

    /**
     * {@link #SIZING}, or with {@code packs} what repacking adds: packed Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights
     * ({@link RowGroups#bytes}), and a batch's activations in the packed mat-mat's form.
     */
    public static Sizing sizing(boolean packs) {
        return new Sizing() {
            @Override
            public long weightBytes(GgmlType type, long rows, long cols) {
                return packs && RowGroups.packable(type, rows, cols) ? RowGroups.bytes(type, rows, cols) : 0;
            }

            @Override
            public long scratchBytes(ScratchShape shape) {
                int maxTokens = shape.maxTokens();
                int widestRow = shape.widestRow();
                // Per thread: a decoded weight tile (TILE_ROWS x the widest row) and the mat-mat's accumulators,
                // attention scores (group x context; 8 query heads per KV head covers common models; grown
                // geometrically), the RoPE table.
                long perThread = 4L * (MatMat.scratchFloats(widestRow) + 2L * 8 * shape.contextSize()
                        + 2L * shape.ropePairs() * maxTokens);
                // Shared: the float mat-mat's transposed batch (tokens padded to whole vectors).
                long transposed = 4L * MatMat.transposedFloats(maxTokens, widestRow);
                // The integer path's activations (QuantizedRow): a batch's rounded rows, one row's arrays,
                // and with packing a batch's rows for the packed mat-mat and the packing's file read buffer
                // (held while a weight is packed, at load or when layers move to the CPU).
                long quantized = 4L * maxTokens * widestRow + QuantizedRow.bytes(widestRow)
                        + (packs ? QuantizedRow.batchBytes(maxTokens, widestRow) + PACK_CHUNK_BYTES : 0);
                return shape.threads() * perThread + transposed + quantized;
            }
        };
    }

    /** Every computable weight type and every cache type: the CPU has kernels for all of them. */
    private static final Set<GgmlType> MATMUL_TYPES = GgmlType.computableTypes();
    private static final Set<GgmlType> KV_TYPES = KvCache.ELEMENT_TYPES;

    /**
     * Work items per thread of a mat-vec (one token): few and long, so each thread streams a long run
     * of rows (measured on Q4_0 TinyLlama, 2 threads: 32-row items gave 15 to 30 tokens/s, 128 to
     * 1024-row items about 37), with enough of them to even out a slow thread.
     */
    private static final int MATVEC_ITEMS_PER_THREAD = 4;
    /** The shortest mat-vec work item, in rows. */
    private static final int MATVEC_MIN_ROWS = 64;
    /** Bytes of the file read per step when packing a tensor (the read buffer's size, at most). */
    private static final long PACK_CHUNK_BYTES = 4L << 20;
    /** Output rows per work item of a mat-mat: one decoded tile. */
    private static final int MATMAT_CHUNK_ROWS = MatMat.TILE_ROWS;
    /** Weights one matmuls dispatch takes (Q, K, V: 3); more run one by one. */
    private static final int MAX_SHARED_WEIGHTS = 4;

    static {
        if (MATMAT_CHUNK_ROWS % RowGroups.G != 0) {   // packed mat-mat items must be whole row groups
            throw new AssertionError("mat-mat work items of " + MATMAT_CHUNK_ROWS + " rows are not whole groups of " + RowGroups.G);
        }
    }
    /** Elements per work item of element-wise ops; smaller ops run on the calling thread alone. */
    private static final int ELEMENTWISE_CHUNK = 1 << 14;

    private final Options options;
    private final WorkerPool pool;
    private final AtomicLong allocated = new AtomicLong();
    private final Scratch scratch;
    private final QuantizedRow quantizedRow;   // the integer path's activation row, guarded by lock
    private int liveHandles;     // guarded by lock
    private RopeTable ropeTable; // guarded by lock; the last spec's frequencies

    // One reusable task per op kind (ops are serialized): nothing is allocated per dispatch.
    private final MatmulTask matmulTask = new MatmulTask();
    private final PackTask packTask = new PackTask();
    private final AttentionTask attentionTask = new AttentionTask();
    private final RowTask rowTask = new RowTask();
    private final ElementwiseTask elementwiseTask = new ElementwiseTask();

    public CpuBackend(Options options) {
        super(CpuActivations.class, CpuWeight.class, CpuKvCache.class);
        this.options = Objects.requireNonNull(options, "options");
        this.pool = new WorkerPool(options.threads(), "spillway-cpu-");
        this.scratch = new Scratch(options.threads(), allocated, options.memory());
        this.quantizedRow = new QuantizedRow(allocated, options.memory());
    }

    public Options options() {
        return options;
    }

    @Override
    public Sizing sizing() {
        return options.sizing();
    }

    @Override
    public MemoryAccount memory() {
        return options.memory();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public boolean supports(Op op, GgmlType type) {
        return switch (op) {
            case MATMUL -> MATMUL_TYPES.contains(type);
            case ATTENTION, KV_STORE -> KV_TYPES.contains(type);
            case RMS_NORM, ROPE, SWIGLU, ADD, COPY_ROWS -> type == GgmlType.F32;
        };
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Weight loadWeight(TensorView tensor) {
        Objects.requireNonNull(tensor, "tensor");
        lock.lock();
        try {
            checkOpen();
            CpuWeight w = options.packs() && RowGroups.packable(tensor.type(), tensor.rows(), tensor.cols())
                    ? packed(tensor) : new CpuWeight(this, tensor);
            liveHandles++;
            return w;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A copy of a Q4_0, Q4_1, Q8_0, Q4_K, Q5_K or Q6_K tensor in {@link RowGroups}' layout, counted in this backend's memory. The
     * bytes are read from the file when the tensor says where it lies ({@link TensorView#file}), a
     * chunk at a time: faulting in the mapping instead would keep those pages resident beside the
     * copy for as long as the file stays mapped. Every thread packs.
     */
    private CpuWeight packed(TensorView tensor) {
        long bytes = RowGroups.bytes(tensor.type(), tensor.rows(), tensor.cols());
        String what = "packed weight " + tensor.name() + " (" + tensor.rows() + ", " + tensor.cols() + ") " + tensor.type();
        long groupBytes = RowGroups.G * tensor.rowBytes();
        int groups = tensor.rows() / RowGroups.G;
        int chunkGroups = (int) Math.max(1, Math.min(groups, PACK_CHUNK_BYTES / groupBytes));
        long chunkBytes = tensor.file() == null ? 0 : chunkGroups * groupBytes;
        options.memory().reserve(bytes + chunkBytes, what + " and its read buffer");
        Arena arena = null;
        boolean packed = false;
        try {
            arena = Arena.ofShared();
            MemorySegment dst = arena.allocate(bytes, 64);
            try (Arena staging = Arena.ofShared()) {   // read by the workers
                MemorySegment chunk = tensor.file() == null ? null : staging.allocate(chunkBytes, 64);
                packTask.type = tensor.type();
                packTask.dst = dst;
                packTask.cols = tensor.cols();
                for (int g0 = 0; g0 < groups; g0 += chunkGroups) {
                    int g1 = Math.min(groups, g0 + chunkGroups);
                    if (chunk != null) {
                        tensor.copyTo(g0 * groupBytes, chunk.asSlice(0, (g1 - g0) * groupBytes));
                    }
                    packTask.src = chunk != null ? chunk : tensor.data();
                    packTask.srcFirstGroup = chunk != null ? g0 : 0;
                    packTask.g0 = g0;
                    packTask.g1 = g1;
                    dispatch(packTask, (g1 - g0 + PackTask.GROUPS - 1) / PackTask.GROUPS);
                }
            } finally {
                packTask.src = null;
                packTask.dst = null;
            }
            CpuWeight w = new CpuWeight(this, tensor, arena, dst);
            packed = true;
            return w;
        } catch (IOException e) {
            throw new UncheckedIOException("cpu backend: reading " + tensor.name() + " to repack it: " + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            throw new BackendMemoryException(name(), bytes, allocated.get(), what, "cpu backend: cannot allocate " + bytes + " bytes of " + what, e);
        } finally {
            // One place for the bookkeeping, whatever ended the packing: the read buffer is always
            // returned; the copy is counted if it was made, freed and returned if not.
            if (packed) {
                allocated.addAndGet(bytes);
                options.memory().release(chunkBytes);
            } else {
                if (arena != null) {
                    arena.close();
                }
                options.memory().release(bytes + chunkBytes);
            }
        }
    }

    @Override
    public KvCache allocateKv(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        OpChecks.kvCache(name(), KV_TYPES, contextSize, kvDim, keyType, valueType);
        long bytes = SIZING.kvBytes(contextSize, kvDim, keyType, valueType);
        lock.lock();
        try {
            checkOpen();
            String what = "KV cache (" + contextSize + ", " + kvDim + ") " + keyType + "/" + valueType;
            options.memory().reserve(bytes, what);
            CpuKvCache cache;
            try {
                cache = new CpuKvCache(this, contextSize, kvDim, keyType, valueType);
            } catch (OutOfMemoryError | RuntimeException e) {
                options.memory().release(bytes);
                if (e instanceof OutOfMemoryError) {
                    throw new BackendMemoryException(name(), bytes, allocated.get(), what,
                            "cpu backend: cannot allocate " + bytes + " bytes of " + what, e);
                }
                throw e;
            }
            assert cache.bytes == bytes : "KV cache size differs from SIZING";
            allocated.addAndGet(cache.bytes);
            liveHandles++;
            return cache;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Activations allocateActivations(int rows, int cols) {
        OpChecks.activationShape(rows, cols);
        lock.lock();
        try {
            checkOpen();
            String what = "activations (" + rows + ", " + cols + ")";
            long bytes = SIZING.activationBytes(rows, cols);
            options.memory().reserve(bytes, what);
            float[] data;
            try {
                data = new float[rows * cols];
            } catch (OutOfMemoryError e) {
                options.memory().release(bytes);
                throw new BackendMemoryException(name(), bytes, allocated.get(), what, "cpu backend: no heap for " + what, e);
            }
            CpuActivations a = new CpuActivations(this, rows, cols, data);
            allocated.addAndGet(a.bytes);
            liveHandles++;
            return a;
        } finally {
            lock.unlock();
        }
    }

    void release(CpuActivations a) {
        lock.lock();
        try {
            if (!a.closed) {
                a.closed = true;
                a.data = null;
                allocated.addAndGet(-a.bytes);
                options.memory().release(a.bytes);
                handleGone();
            }
        } finally {
            lock.unlock();
        }
    }

    void release(CpuKvCache c) {
        lock.lock();
        try {
            if (!c.closed) {
                c.closed = true;
                c.free();
                allocated.addAndGet(-c.bytes);
                options.memory().release(c.bytes);
                handleGone();
            }
        } finally {
            lock.unlock();
        }
    }

    void release(CpuWeight w) {
        lock.lock();
        try {
            if (!w.closed) {
                w.closed = true;
                w.free();
                long bytes = w.allocatedBytes();
                if (bytes > 0) {
                    allocated.addAndGet(-bytes);
                    options.memory().release(bytes);
                }
                handleGone();
            }
        } finally {
            lock.unlock();
        }
    }

    /** When the last handle goes, so does the scratch, and allocatedBytes is back to zero. */
    private void handleGone() {
        if (--liveHandles == 0) {
            scratch.release();
            quantizedRow.release();
        }
    }

    @Override
    public long allocatedBytes() {
        return allocated.get();
    }

    @Override
    protected void runWrite(CpuActivations dst, float[] src, int nRows) {
        System.arraycopy(src, 0, dst.data, 0, nRows * dst.cols);
    }

    @Override
    protected void runRead(CpuActivations src, float[] dst, int nRows) {
        System.arraycopy(src.data, 0, dst, 0, nRows * src.cols);
    }

    /** Ops run to completion under the lock, so there is nothing pending to wait for. */
    @Override
    protected void runReadKv(CpuKvCache c, int rows, MemorySegment keys, MemorySegment values) {
        MemorySegment.copy(c.keys.data(), 0, keys, 0, rows * c.keys.rowBytes());
        MemorySegment.copy(c.values.data(), 0, values, 0, rows * c.values.rowBytes());
    }

    @Override
    protected void runWriteKv(CpuKvCache c, int rows, MemorySegment keys, MemorySegment values) {
        MemorySegment.copy(keys, 0, c.keys.data(), 0, rows * c.keys.rowBytes());
        MemorySegment.copy(values, 0, c.values.data(), 0, rows * c.values.rowBytes());
    }

    // ---- ops ------------------------------------------------------------------------------------

    @Override
    protected void runRmsNorm(CpuActivations o, CpuActivations i, CpuWeight g, int nTokens, float eps) {
        try {
            rowTask.start(RowTask.RMS_NORM, o, i, nTokens);
            rowTask.gamma = g.data;
            rowTask.eps = eps;
            dispatch(rowTask, nTokens);
        } finally {
            rowTask.clear();
        }
    }

    @Override
    protected void runMatmul(CpuActivations o, CpuActivations i, CpuWeight wt, int nTokens) {
        matmulTask.add(wt, o.data, nTokens == 1 ? matVecRows(wt.rows) : MATMAT_CHUNK_ROWS);
        runMatmulTask(i, wt, nTokens);
    }

    /**
     * Weights that read one input the same way (all packed, all on the unpacked integer mat-vec, or
     * all on the float kernels) share one preparation of the input (quantized or transposed once)
     * and one dispatch over all their row chunks; otherwise they run one by one.
     */
    @Override
    protected void runMatmuls(List<CpuActivations> outs, CpuActivations in, List<CpuWeight> weights, int nTokens) {
        CpuWeight first = weights.get(0);
        for (CpuWeight w : weights) {
            if (weights.size() > MAX_SHARED_WEIGHTS || inputPath(w, nTokens) != inputPath(first, nTokens)) {
                super.runMatmuls(outs, in, weights, nTokens);
                return;
            }
        }
        for (int k = 0; k < weights.size(); k++) {
            CpuWeight w = weights.get(k);
            matmulTask.add(w, outs.get(k).data, nTokens == 1 ? matVecRows(w.rows) : MATMAT_CHUNK_ROWS);
        }
        runMatmulTask(in, first, nTokens);
    }

    /** How a matmul prepares its input: 0 packed (a quantized batch), 1 the unpacked integer mat-vec, 2 floats. */
    private int inputPath(CpuWeight w, int nTokens) {
        if (w.packed != null && !floatBatchOnPacked(w, nTokens)) {
            return 0;
        }
        boolean integerQ8 = !options.exact() && MatVecQ8.supports(w.type);
        return integerQ8 && nTokens == 1 ? 1 : integerQ8 ? 3 : 2;   // 3: rounded then transposed (a batch on unpacked Q8_0)
    }

    /** Prepares the input for {@code wt}'s path (every weight added shares it), then runs the task's items. */
    private void runMatmulTask(CpuActivations i, CpuWeight wt, int nTokens) {
        try {
            MatmulTask t = matmulTask;
            boolean floatBatch = floatBatchOnPacked(wt, nTokens);
            boolean integerQ8 = !options.exact() && MatVecQ8.supports(wt.type) && (wt.packed == null || floatBatch);
            t.quantized = integerQ8 && nTokens == 1;
            t.x = i.data;
            if (wt.packed != null && !floatBatch) {   // packed implies the integer path; one token is a batch of one
                quantizedRow.quantizeBatch(i.data, nTokens, wt.cols);
            } else if (t.quantized) {
                quantizedRow.quantize(i.data, wt.cols);
            } else if (integerQ8 && nTokens > 1) {
                quantizedRow.round(i.data, nTokens, wt.cols);   // the same activations the integer mat-vec sees
                t.x = quantizedRow.rounded;
            }
            if ((wt.packed == null || floatBatch) && !t.quantized && nTokens > 1) {   // the float mat-mat reads the batch transposed
                float[] xt = scratch.shared(MatMat.transposedFloats(nTokens, wt.cols));
                MatMat.transpose(t.x, nTokens, wt.cols, xt);
                t.x = xt;
            }
            t.n = nTokens;
            dispatch(t, nTokens == 0 ? 0 : t.items);
        } finally {
            matmulTask.clear();
        }
    }

    /**
     * Whether a batch on packed weights runs the float mat-mat instead of the integer one: Q8_0, whose
     * tiles decode from the row groups at the float kernel's speed. The packed integer mat-mat spends
     * per product about as many vector ops as the float tile spends per FMA, and more of them on the
     * shift port on Intel (fallback-cpu/README.md, "Q8_0 prompts on the float tile"); the activations
     * are the integer path's, rounded to 8-bit blocks, so a prompt sees the numbers generation sees.
     */
    private static boolean floatBatchOnPacked(CpuWeight w, int nTokens) {
        return w.packed != null && nTokens > 1 && w.type == GgmlType.Q8_0;
    }

    /** Rows per mat-vec work item: {@value #MATVEC_ITEMS_PER_THREAD} items per thread, at least {@value #MATVEC_MIN_ROWS} rows. */
    private int matVecRows(int rows) {
        int items = MATVEC_ITEMS_PER_THREAD * options.threads();
        int perItem = Math.max(MATVEC_MIN_ROWS, (rows + items - 1) / items);
        return (perItem + RowGroups.G - 1) / RowGroups.G * RowGroups.G;   // whole row groups, for packed weights
    }

    @Override
    protected void runRope(CpuActivations a, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        try {
            if (ropeTable == null || !ropeTable.spec().equals(spec)) {
                ropeTable = new RopeTable(spec);
            }
            rowTask.start(RowTask.ROPE, a, a, nTokens);
            rowTask.heads = headCount;
            rowTask.headDim = headDim;
            rowTask.startPos = startPos;
            rowTask.rope = ropeTable;
            dispatch(rowTask, nTokens);
        } finally {
            rowTask.clear();
        }
    }

    @Override
    protected void runKvStore(CpuKvCache c, CpuActivations ka, CpuActivations va, int startPos, int nTokens) {
        try {
            rowTask.start(RowTask.KV_STORE, ka, va, nTokens);
            rowTask.cache = c;
            rowTask.startPos = startPos;
            dispatch(rowTask, nTokens);
        } finally {
            rowTask.clear();
        }
    }

    @Override
    protected void runAttention(CpuActivations o, CpuActivations qa, CpuKvCache c, AttentionShape shape, int startPos,
                                int nTokens) {
        try {
            AttentionTask t = attentionTask;
            t.out = o.data;
            t.q = qa.data;
            t.cache = c;
            t.shape = shape;
            t.startPos = startPos;
            t.n = nTokens;
            dispatch(t, nTokens * shape.kvHeadCount());
        } finally {
            attentionTask.clear();
        }
    }

    @Override
    protected void runElementwise(Op op, CpuActivations a, CpuActivations b, int nTokens) {
        try {
            ElementwiseTask t = elementwiseTask;
            t.kind = op == Op.SWIGLU ? ElementwiseTask.SWIGLU : ElementwiseTask.ADD;
            t.a = a.data;
            t.b = b.data;
            t.total = nTokens * a.cols;
            dispatch(t, (t.total + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK);
        } finally {
            elementwiseTask.clear();
        }
    }

    @Override
    protected void runCopyRows(CpuActivations d, int dstRow, CpuActivations s, int srcRow, int nRows) {
        System.arraycopy(s.data, srcRow * s.cols, d.data, dstRow * d.cols, nRows * d.cols);
    }

    @Override
    protected void onClose() {
        pool.close();
    }

    @Override
    public String toString() {
        return "cpu backend (" + options.threads() + " threads, " + Simd.F.vectorBitSize() + "-bit vectors)";
    }

    private void dispatch(WorkerPool.Body body, int items) {
        pool.parallelFor(items, body);
    }

    // ---- tasks ------------------------------------------------------------------------------------

    /**
     * {@code outs[k] (n, ws[k].rows) = x (n, cols) . ws[k]^T} for the weights added (one, or the
     * weights of a matmuls that share an input path); item = a chunk of one weight's output rows,
     * weight k's chunks after weight k-1's.
     */
    private final class MatmulTask implements WorkerPool.Body {
        boolean quantized;   // one token, unpacked Q8_0: x is in quantizedRow (the integer mat-vec)
        float[] x;   // (n, cols); for the float mat-mat (cols, paddedTokens(n)), transposed
        int n;
        final CpuWeight[] ws = new CpuWeight[MAX_SHARED_WEIGHTS];
        final float[][] outs = new float[MAX_SHARED_WEIGHTS][];   // (n, ws[k].rows)
        final int[] chunks = new int[MAX_SHARED_WEIGHTS];         // rows per item of weight k
        final int[] ends = new int[MAX_SHARED_WEIGHTS];           // items of weights 0..k
        int count;
        int items;

        void add(CpuWeight w, float[] out, int chunk) {
            assert count < ws.length : "runMatmuls caps the weights at " + ws.length;
            ws[count] = w;
            outs[count] = out;
            chunks[count] = chunk;
            items += (w.rows + chunk - 1) / chunk;
            ends[count++] = items;
        }

        @Override
        public void run(int item, int worker) {
            int k = 0;
            while (item >= ends[k]) {
                k++;
            }
            CpuWeight w = ws[k];
            float[] out = outs[k];
            int chunk = chunks[k];
            int r0 = (item - (k == 0 ? 0 : ends[k - 1])) * chunk;
            int r1 = Math.min(w.rows, r0 + chunk);
            if (w.packed != null && floatBatchOnPacked(w, n)) {   // x: the rounded batch, transposed
                float[] tile = scratch.get(worker, Scratch.TILE, MatMat.scratchFloats(w.cols));
                MatMat.matMatPackedQ8_0(w.packed, w.cols, x, n, out, w.rows, r0, r1, tile);
            } else if (w.packed != null) {   // a batch of n >= 1: the packed mat-mat runs one token as its mat-vec
                int[] p = quantizedRow.batchPairs, s8 = quantizedRow.batchSums8;
                float[] dx = quantizedRow.batchScales;
                switch (w.type) {
                    case Q4_0 -> PackedQ4_0.matMat(w.packed, w.cols, n, p, s8, dx, out, w.rows, r0, r1);
                    case Q8_0 -> PackedQ8_0.matMat(w.packed, w.cols, n, p, dx, out, w.rows, r0, r1);
                    case Q4_1 -> PackedQ4_1.matMat(w.packed, w.cols, n, p, s8, dx, out, w.rows, r0, r1);
                    case Q4_K -> PackedQ4_K.matMat(w.packed, w.cols, n, p, s8, dx, out, w.rows, r0, r1);
                    case Q5_K -> PackedQ5_K.matMat(w.packed, w.cols, n, p, s8, dx, out, w.rows, r0, r1);
                    case Q6_K -> PackedQ6_K.matMat(w.packed, w.cols, n, p, dx, out, w.rows, r0, r1);
                    default -> throw new AssertionError("no packed kernel for " + w.type);
                }
            } else if (quantized) {
                MatVecQ8.matVec(w.type, w.data, w.rowBytes, w.cols, quantizedRow.values, quantizedRow.scales, out, 0, r0, r1);
            } else if (n == 1) {
                MatVec.matVec(w.type, w.data, w.rowBytes, w.cols, x, 0, out, 0, r0, r1);
            } else {
                float[] tile = scratch.get(worker, Scratch.TILE, MatMat.scratchFloats(w.cols));
                MatMat.matMat(w.type, w.data, w.rowBytes, w.cols, x, n, out, w.rows, r0, r1, 0, tile);
            }
        }

        void clear() {
            java.util.Arrays.fill(ws, null);
            java.util.Arrays.fill(outs, null);
            x = null;
            count = 0;
            items = 0;
        }
    }

    /** Packs row groups {@code [g0, g1)} of a tensor ({@link RowGroups#pack}); item = {@value #GROUPS} groups. */
    private static final class PackTask implements WorkerPool.Body {
        static final int GROUPS = 8;
        GgmlType type;
        MemorySegment src;   // the tensor's rows in the file's layout from group srcFirstGroup on
        int srcFirstGroup;
        MemorySegment dst;   // the whole packed tensor
        int cols;
        int g0, g1;

        @Override
        public void run(int item, int worker) {
            int from = g0 + item * GROUPS;
            RowGroups.pack(type, src, srcFirstGroup, cols, dst, from, Math.min(g1, from + GROUPS));
        }
    }

    /** Item = (token, KV head), longest (latest) tokens first. */
    private final class AttentionTask implements WorkerPool.Body {
        float[] out; // (n, qDim)
        float[] q;   // (n, qDim)
        CpuKvCache cache;
        AttentionShape shape;
        int startPos;
        int n;

        @Override
        public void run(int item, int worker) {
            int kvHeads = shape.kvHeadCount();
            int t = n - 1 - item / kvHeads;
            int g = item % kvHeads;
            int len = startPos + t + 1;
            int hd = shape.headDim();
            KvRows k = cache.keys;
            KvRows v = cache.values;
            Attention.attend(out, t * shape.qDim(), q, t * shape.qDim(), k, v, shape, g, len,
                    scratch.get(worker, Scratch.SCORES, Attention.scoreFloats(shape, len)),
                    scratch.get(worker, Scratch.K_ROW, k.bufferFloats(hd)),
                    scratch.get(worker, Scratch.V_ROW, v.bufferFloats(hd)));
        }

        void clear() {
            out = null;
            q = null;
            cache = null;
            shape = null;
        }
    }

    /** Per-token row ops; item = token. */
    private final class RowTask implements WorkerPool.Body {
        static final int RMS_NORM = 0, ROPE = 1, KV_STORE = 2;
        int kind;
        CpuActivations a; // rmsNorm: out; rope: x; kvStore: k
        CpuActivations b; // rmsNorm: in; kvStore: v
        int n;
        MemorySegment gamma;
        float eps;
        int heads, headDim, startPos;
        RopeTable rope;
        CpuKvCache cache;

        void start(int kind, CpuActivations a, CpuActivations b, int n) {
            this.kind = kind;
            this.a = a;
            this.b = b;
            this.n = n;
        }

        @Override
        public void run(int t, int worker) {
            int cols = a.cols;
            switch (kind) {
                case RMS_NORM -> VectorOps.rmsNorm(a.data, t * cols, b.data, t * cols, gamma, cols, eps);
                case ROPE -> {
                    float[] cs = scratch.get(worker, Scratch.ROPE, rope.tableFloats());
                    rope.fill(startPos + t, cs);
                    VectorOps.rope(a.data, t * cols, heads, headDim, rope, cs);
                }
                case KV_STORE -> {
                    storeRow(cache.keys, a.data, t * cols, startPos + t);
                    storeRow(cache.values, b.data, t * cols, startPos + t);
                }
                default -> throw new AssertionError(kind);
            }
        }

        private static void storeRow(KvRows rows, float[] src, int srcOff, int p) {
            if (rows.type() == GgmlType.F32) {
                MemorySegment.copy(src, srcOff, rows.data(), Simd.LE_FLOAT, p * rows.rowBytes(), rows.kvDim());
            } else {
                Quants.quantize(rows.type(), src, srcOff, rows.kvDim(), rows.data(), p * rows.rowBytes());
            }
        }

        void clear() {
            a = null;
            b = null;
            gamma = null;
            rope = null;
            cache = null;
        }
    }

    /** {@code a op= b} over the first {@code total} elements; item = a chunk of elements. */
    private static final class ElementwiseTask implements WorkerPool.Body {
        static final int SWIGLU = 0, ADD = 1;
        int kind;
        float[] a;
        float[] b;
        int total;

        @Override
        public void run(int item, int worker) {
            int from = item * ELEMENTWISE_CHUNK;
            int len = Math.min(total - from, ELEMENTWISE_CHUNK);
            if (kind == SWIGLU) {
                VectorOps.swiglu(a, from, b, from, len);
            } else {
                VectorOps.add(a, from, b, from, len);
            }
        }

        void clear() {
            a = null;
            b = null;
        }
    }
}
