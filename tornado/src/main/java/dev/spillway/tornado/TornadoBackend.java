package dev.spillway.tornado;

import static dev.spillway.tornado.TornadoKernels.EW_WG;
import static dev.spillway.tornado.TornadoKernels.WG;

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
import dev.spillway.engine.tensor.TensorView;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.OffloadBackend;
import dev.spillway.tornado.TornadoHandles.Bytes;
import dev.spillway.tornado.TornadoHandles.Cache;
import dev.spillway.tornado.TornadoHandles.Floats;
import dev.spillway.tornado.TornadoHandles.Handle;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.exceptions.TornadoMemoryException;
import uk.ac.manchester.tornado.api.exceptions.TornadoOutOfMemoryException;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The {@link dev.spillway.engine.backend.Backend} seam on TornadoVM: every op is a TornadoVM kernel
 * ({@link TornadoKernels}), compiled by TornadoVM for its device (OpenCL C here; PTX or SPIR-V where the
 * SDK has those backends).
 *
 * <p><b>Memory.</b> TornadoVM keeps a device buffer per array per task graph, and shares one between
 * graphs only inside one execution plan ({@code persistOnDevice}/{@code consumeFromDevice}), whose
 * graphs and arrays are fixed when the plan is built. So the backend keeps its tensors in a few heaps,
 * each one TornadoVM array: weights in byte chunks (GGUF block formats, as loaded), KV caches in byte
 * chunks, activations in one float array, and hands out ranges of them ({@link HeapAllocator}). One
 * plan holds one graph per kernel (per chunk for the kernels that read one), and every launch gets
 * the ranges' offsets in a small parameter array. Arrays are at most 2 GiB (TornadoVM indexes them
 * with an int), hence the chunks.
 *
 * <pre>
 *   loadWeight / allocateKv / allocateActivations ──► ranges of the heaps (counted against the budget)
 *        │ first op or reserveScratch after a heap outgrew its array
 *        ▼
 *   seal: arrays sized to the heaps' high-water marks, weights copied in from their mapping,
 *         state and caches saved from the old plan ──► one TornadoExecutionPlan:
 *         init (uploads, persistOnDevice) │ in/out (staging) │ ew │ rope │ norm,mm,win per weight chunk
 *         │ kvs,att,kin,kout per KV chunk │ save
 *        ▼
 *   op: ip/fp ← offsets and sizes; grid set; plan.withGraph(g).execute()  (synchronous)
 * </pre>
 *
 * <p>Every range is counted against the budget ({@code min(device memory, Options.memoryLimit)}), the
 * memory monitor's account and the fault-injection gate before it is handed out; a refusal is a
 * {@link BackendMemoryException}, as is TornadoVM's own out-of-memory when a plan's arrays are
 * allocated on the device. Building a plan compiles its kernels (about a second per kernel on PoCL),
 * once per seal: a heap outgrowing its array (a context larger than any before) seals again.
 *
 * <p>TornadoVM keeps a host copy of every array, so weights on this backend cost host memory as well
 * as device memory (documented in the module's README). All calls hold one lock.
 */
public final class TornadoBackend extends SerializedBackend<Floats, Bytes, Cache> implements OffloadBackend {
    private static final Logger LOG = Logger.getLogger(TornadoBackend.class.getName());

    /** Floats of the staging array for activation rows (host to device and back, in pieces of this size). */
    static final int IO_FLOATS = 1 << 16;
    /** Bytes of the staging array for raw weight and cache rows. */
    static final int IO_BYTES = 1 << 20;
    /** Ints and floats of the launch parameters. */
    static final int PARAMS = 16;
    /** The longest TornadoVM array (int-indexed), less room for its header. */
    static final long ARRAY_LIMIT = Integer.MAX_VALUE - 4096L;

    /** Weight types of MATMUL, KV types of KV_STORE and ATTENTION: the same as the native kernels'. */
    static final Set<GgmlType> MATMUL_TYPES = GgmlType.computableTypes();
    static final Set<GgmlType> KV_TYPES = KvCache.ELEMENT_TYPES;

    /**
     * What this backend allocates: weights, caches and activations at their exact sizes (no
     * alignment: kernels read bytes), and as scratch the RoPE table, (maxTokens, rot/2, 2) F32, the
     * two staging arrays and each graph's copy of the launch parameters.
     */
    public static final Sizing SIZING = new Sizing() {
        @Override
        public long weightBytes(GgmlType type, long rows, long cols) {
            return Math.multiplyExact(rows, type.bytesFor(cols));
        }

        @Override
        public long scratchBytes(ScratchShape shape) {
            return fixedScratchBytes(GRAPHS_ONE_CHUNK) + 8L * shape.maxTokens() * shape.ropePairs();
        }
    };

    /** Graphs of a plan with one weight chunk and one KV chunk (see {@link #buildPlan}). */
    static final int GRAPHS_ONE_CHUNK = 13;

    static long fixedScratchBytes(int graphs) {
        return 4L * IO_FLOATS + IO_BYTES + 4L * TornadoKernels.POW2_ENTRIES + 8L * PARAMS * graphs;
    }

    private final TornadoDevice device;
    private final DeviceInfo info;
    private final String name;
    private final long budget;
    private final DeviceBackend.Options options;
    private final MemoryAccount account;
    private final long chunkLimit;
    private final String prefix;
    /** TornadoVM's own limit on the plan's device memory (tests: TornadoVM refusing, not Spillway); null = none. */
    String tornadoMemoryLimit;

    // heaps (guarded by lock)
    private final HeapAllocator state = new HeapAllocator(ARRAY_LIMIT);
    private final List<HeapAllocator> weightChunks = new ArrayList<>();
    private final List<HeapAllocator> kvChunks = new ArrayList<>();
    private final List<Bytes> weights = new ArrayList<>();
    private long handleBytes;
    private long attempts;
    private int liveHandles;
    private long ropeFloatsWanted;

    // the sealed plan and its arrays (null until sealed; guarded by lock)
    private TornadoExecutionPlan plan;
    private int generation;
    private FloatArray stateArray;
    private ByteArray[] weightArrays = new ByteArray[0];
    private ByteArray[] kvArrays = new ByteArray[0];
    private FloatArray ropeTable;
    // Launch parameters, staging and the codecs' table: new arrays for every plan (TornadoVM keeps
    // per-array device state that a closed plan leaves behind).
    private IntArray ip;
    private FloatArray fp;
    private FloatArray io;
    private ByteArray bytesIo;
    /** 2^k for the kernels' float codecs, (POW2_ENTRIES) F32, uploaded with the heaps. */
    private FloatArray pow2;
    private final KernelContext context = new KernelContext();
    private final List<WorkerGrid2D> grids = new ArrayList<>();
    private long scratchHeld;
    private int gIn;
    private int gOut;
    private int gEw;
    private int gRope;
    private int gSave;
    private int[] gNorm;
    private int[] gMatmul;
    private int[] gWeightIn;
    private int[] gKvStore;
    private int[] gAttention;
    private int[] gKvIn;
    private int[] gKvOut;
    // RoPE angles of the table's contents
    private RopeSpec ropeSpec;
    private int ropeStart = -1;
    private int ropeRows;

    /**
     * A backend on {@code device}, which discovery listed as {@code info}.
     *
     * @param chunkLimit the largest weight or KV chunk in bytes (tests use small ones to exercise several)
     */
    TornadoBackend(TornadoDevice device, DeviceInfo info, DeviceBackend.Options options, long chunkLimit) {
        super(Floats.class, Bytes.class, Cache.class);
        this.device = Objects.requireNonNull(device, "device");
        this.info = Objects.requireNonNull(info, "info");
        this.options = Objects.requireNonNull(options, "options");
        if (chunkLimit <= 0 || chunkLimit > ARRAY_LIMIT) {
            throw new IllegalArgumentException("chunk limit must be in 1 .. " + ARRAY_LIMIT + ", got " + chunkLimit);
        }
        this.chunkLimit = chunkLimit;
        this.name = info.id();
        this.budget = options.memoryLimit() > 0 ? Math.min(info.totalBytes(), options.memoryLimit()) : info.totalBytes();
        this.account = options.memory() != null ? options.memory() : MemoryAccount.unlimited(name);
        this.prefix = "spw" + Integer.toHexString(System.identityHashCode(this)) + "_";
    }

    /** A backend on {@code device} with chunks of up to 2 GiB. */
    public TornadoBackend(TornadoDevice device, DeviceInfo info, DeviceBackend.Options options) {
        this(device, info, options, ARRAY_LIMIT);
    }

    ReentrantLock lockForHandles() {
        return lock;
    }

    HeapAllocator stateHeap() {
        return state;
    }

    HeapAllocator weightHeap(int chunk) {
        return weightChunks.get(chunk);
    }

    HeapAllocator kvHeap(int chunk) {
        return kvChunks.get(chunk);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DeviceInfo device() {
        return info;
    }

    @Override
    public long budget() {
        return budget;
    }

    @Override
    public long runtimeBytes() {
        return options.runtimeBytes();
    }

    @Override
    public Sizing sizing() {
        return SIZING;
    }

    @Override
    public MemoryAccount memory() {
        return account;
    }

    /** Everything the CPU backend supports: every weight and cache type has a kernel here. */
    @Override
    public boolean supports(Op op, GgmlType type) {
        return DeviceBackend.coversLikeTheCpu(op, type);
    }

    @Override
    public long allocatedBytes() {
        lock.lock();
        try {
            return handleBytes + scratchHeld;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of scratch held now (staging, parameters, the RoPE table), shared by every context. */
    public long scratchBytes() {
        lock.lock();
        try {
            return scratchHeld;
        } finally {
            lock.unlock();
        }
    }

    /** How many times the heaps were sealed into a plan (each compiles the kernels). */
    int generation() {
        lock.lock();
        try {
            return generation;
        } finally {
            lock.unlock();
        }
    }

    // ---- memory -------------------------------------------------------------------------------

    /** Counts {@code bytes} for {@code what} against the budget, the gate and the monitor's account. */
    private void reserve(long bytes, String what) {
        long index = attempts++;
        if (bytes > budget - handleBytes - scratchHeld) {
            throw refused(bytes, what, "over the budget: " + (handleBytes + scratchHeld) + " of " + budget + " bytes are in use");
        }
        if (!options.gate().allows(index, bytes)) {
            throw refused(bytes, what, "allocation " + index + " refused by the allocation gate");
        }
        account.reserve(bytes, what);
    }

    private BackendMemoryException refused(long bytes, String what, String why) {
        return new BackendMemoryException(name, bytes, handleBytes + scratchHeld, what,
                name + ": cannot allocate " + bytes + " bytes for " + what + ": " + why);
    }

    @Override
    public Weight loadWeight(TensorView tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (!MATMUL_TYPES.contains(tensor.type())) {
            throw new IllegalArgumentException(name + " cannot hold weight " + tensor.name() + " of type " + tensor.type()
                    + "; supported: " + MATMUL_TYPES);
        }
        MemorySegment data = tensor.data(); // (rows, cols) in the file's block format
        lock.lock();
        try {
            checkOpen();
            long bytes = SIZING.weightBytes(tensor.type(), tensor.rows(), tensor.cols());
            if (bytes != data.byteSize()) {
                throw new IllegalArgumentException(name + ": weight " + tensor.name() + " holds " + data.byteSize()
                        + " bytes, its shape and type need " + bytes);
            }
            if (bytes > chunkLimit) {
                throw new IllegalArgumentException(name + ": weight " + tensor.name() + " has " + bytes
                        + " bytes; a TornadoVM array holds at most " + chunkLimit);
            }
            String what = "weight " + tensor.name();
            reserve(bytes, what);
            long[] at = place(weightChunks, bytes);
            int chunk = (int) at[0];
            long offset = at[1];
            Bytes w = new Bytes(this, tensor.name(), tensor.type(), tensor.rows(), tensor.cols(), tensor.rowBytes(),
                    chunk, offset, data);
            handleBytes += bytes;
            liveHandles++;
            weights.add(w);
            if (plan != null && chunk < weightArrays.length && offset + bytes <= weightArrays[chunk].getSize()) {
                try {
                    uploadWeight(w);
                } catch (RuntimeException | Error e) {
                    release(w);
                    throw e;
                }
            }
            return w;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public KvCache allocateKv(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        OpChecks.kvCache(name, KV_TYPES, contextSize, kvDim, keyType, valueType);
        long bytes = KvCache.bytesFor(contextSize, kvDim, keyType, valueType);
        lock.lock();
        try {
            checkOpen();
            if (bytes > chunkLimit) {
                throw new IllegalArgumentException(name + ": a KV cache of " + bytes + " bytes (" + contextSize + " x " + kvDim
                        + ") is larger than a TornadoVM array (" + chunkLimit + " bytes); use a smaller context");
            }
            String what = "KV cache (" + contextSize + ", " + kvDim + ") " + keyType + "/" + valueType;
            reserve(bytes, what);
            long[] at = place(kvChunks, bytes);
            int chunk = (int) at[0];
            long offset = at[1];
            handleBytes += bytes;
            liveHandles++;
            return new Cache(this, contextSize, kvDim, keyType, valueType, chunk, offset,
                    offset + (long) contextSize * keyType.bytesFor(kvDim));
        } finally {
            lock.unlock();
        }
    }

    @Override
    public dev.spillway.engine.backend.Activations allocateActivations(int rows, int cols) {
        OpChecks.activationShape(rows, cols);
        long floats = (long) rows * cols;
        lock.lock();
        try {
            checkOpen();
            String what = "activations (" + rows + ", " + cols + ")";
            reserve(4 * floats, what);
            long offset = state.allocate(floats);
            if (offset < 0) {
                account.release(4 * floats);
                throw refused(4 * floats, what, "the activations of a TornadoVM backend fit one array of at most "
                        + ARRAY_LIMIT + " floats");
            }
            handleBytes += 4 * floats;
            liveHandles++;
            return new Floats(this, rows, cols, offset);
        } finally {
            lock.unlock();
        }
    }

    /** Frees a handle once; when the last handle goes, the plan and its arrays go too. */
    void release(Handle h) {
        lock.lock();
        try {
            if (h.closed) {
                return;
            }
            h.closed = true;
            if (isClosed()) {
                return; // the backend freed everything when it closed
            }
            long bytes = switch (h) {
                case Floats f -> 4 * f.count();
                case Bytes b -> b.byteSize();
                case Cache c -> c.byteSize();
                default -> throw new AssertionError(h);
            };
            h.free();
            if (h instanceof Bytes b) {
                weights.remove(b);
            }
            handleBytes -= bytes;
            account.release(bytes);
            if (--liveHandles == 0) {
                dropPlan();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Seals now for contexts of {@code shape} (the RoPE table for its batches), so that a context's
     * memory is on the device when it is created and TornadoVM's own out-of-memory shows here.
     */
    @Override
    public void reserveScratch(ScratchShape shape) {
        Objects.requireNonNull(shape, "shape");
        lock.lock();
        try {
            checkOpen();
            ropeFloatsWanted = Math.max(ropeFloatsWanted, 2L * shape.maxTokens() * shape.ropePairs());
            ensureSealed();
        } finally {
            lock.unlock();
        }
    }

    // ---- the plan ---------------------------------------------------------------------------------

    /** Whether the sealed plan holds every live range and the RoPE table asked for. */
    private boolean sealedFits() {
        if (plan == null || weightChunks.size() > weightArrays.length || kvChunks.size() > kvArrays.length
                || state.end() > stateArray.getSize() || ropeFloatsWanted > ropeTable.getSize()) {
            return false;
        }
        for (int c = 0; c < weightChunks.size(); c++) {
            if (weightChunks.get(c).end() > weightArrays[c].getSize()) {
                return false;
            }
        }
        for (int c = 0; c < kvChunks.size(); c++) {
            if (kvChunks.get(c).end() > kvArrays[c].getSize()) {
                return false;
            }
        }
        return true;
    }

    private void ensureSealed() {
        if (!sealedFits()) {
            seal();
        }
    }

    /**
     * Builds the arrays and the plan anew for the heaps' current high-water marks: saves the state
     * and caches from the device first (when a plan exists), copies them and the weights into the
     * new arrays, builds and uploads. On failure nothing of the new plan stays.
     */
    private void seal() {
        FloatArray oldState = stateArray;
        ByteArray[] oldKv = kvArrays;
        if (plan != null) {
            launch(gSave, 1, 1, 1);
            closePlan();
        }
        // The weights are copied again from their mapping: the old host copies go first (no two at
        // once), and the live weights are packed anew, so that weights freed since (spilled layers)
        // leave no holes in the new arrays.
        weightArrays = new ByteArray[0];
        packWeights();
        int graphs = GRAPHS_ONE_CHUNK + 3 * (Math.max(1, weightChunks.size()) - 1) + 4 * (Math.max(1, kvChunks.size()) - 1);
        long scratch = fixedScratchBytes(graphs) + 4L * Math.max(1, ropeFloatsWanted);
        long more = scratch - scratchHeld;
        if (more > 0) {
            reserve(more, "scratch (staging, launch parameters, RoPE table)");
        } else {
            account.release(-more);
        }
        scratchHeld = scratch;
        try {
            FloatArray newState = new FloatArray((int) Math.max(1, state.end()));
            if (oldState != null) {
                copyPrefix(oldState.getSegment(), newState.getSegment());
            }
            ByteArray[] newWeights = new ByteArray[Math.max(1, weightChunks.size())];
            for (int c = 0; c < newWeights.length; c++) {
                newWeights[c] = new ByteArray((int) Math.max(1, c < weightChunks.size() ? weightChunks.get(c).end() : 1));
            }
            for (Bytes w : weights) {
                MemorySegment.copy(w.source, 0, newWeights[w.chunk].getSegment(), w.offset, w.byteSize());
            }
            ByteArray[] newKv = new ByteArray[Math.max(1, kvChunks.size())];
            for (int c = 0; c < newKv.length; c++) {
                newKv[c] = new ByteArray((int) Math.max(1, c < kvChunks.size() ? kvChunks.get(c).end() : 1));
                if (c < oldKv.length) {
                    copyPrefix(oldKv[c].getSegment(), newKv[c].getSegment());
                }
            }
            stateArray = newState;
            weightArrays = newWeights;
            kvArrays = newKv;
            ropeTable = new FloatArray((int) Math.max(1, ropeFloatsWanted));
            ip = new IntArray(PARAMS);
            fp = new FloatArray(PARAMS);
            io = new FloatArray(IO_FLOATS);
            bytesIo = new ByteArray(IO_BYTES);
            pow2 = FloatArray.fromArray(TornadoKernels.pow2Table());
            ropeStart = -1;
            generation++; // before the graphs are named: every plan's graph names are new
            buildPlan();
            LOG.log(Level.FINE, "{0}: plan {1} sealed: {2} state floats, {3} weight chunk(s), {4} KV chunk(s)",
                    new Object[] {name, generation, stateArray.getSize(), weightArrays.length, kvArrays.length});
            launch(0, 1, 1, 1); // init: allocates and uploads every array
        } catch (RuntimeException | Error e) {
            // Nothing of the new plan stays; the saved host arrays do, so the next seal starts from them.
            closePlan();
            stateArray = oldState;
            kvArrays = oldKv;
            ropeTable = null;
            account.release(scratchHeld);
            scratchHeld = 0;
            throw e;
        }
    }

    /** Places the live weights anew, first fit in load order, in fresh chunks. */
    private void packWeights() {
        weightChunks.clear();
        for (Bytes w : weights) {
            long[] at = place(weightChunks, w.byteSize());
            w.chunk = (int) at[0];
            w.offset = at[1];
        }
    }

    /** A range of {@code bytes} in the first of {@code chunks} with room, or in a new chunk: {chunk, offset}. */
    private long[] place(List<HeapAllocator> chunks, long bytes) {
        for (int c = 0; c < chunks.size(); c++) {
            long offset = chunks.get(c).allocate(bytes);
            if (offset >= 0) {
                return new long[] {c, offset};
            }
        }
        chunks.add(new HeapAllocator(chunkLimit));
        return new long[] {chunks.size() - 1, chunks.getLast().allocate(bytes)};
    }

    private static void copyPrefix(MemorySegment from, MemorySegment to) {
        MemorySegment.copy(from, 0, to, 0, Math.min(from.byteSize(), to.byteSize()));
    }

    private String graphName(String kind) {
        return prefix + generation + "_" + kind;
    }

    /** Adds graph {@code g} with its one task "t" and a 2-D worker grid; returns its index. */
    private int add(List<ImmutableTaskGraph> out, GridScheduler scheduler, TaskGraph g) {
        WorkerGrid2D grid = new WorkerGrid2D(1, 1);
        grids.add(grid);
        scheduler.addWorkerGrid(g.getTaskGraphName() + ".t", grid);
        out.add(g.snapshot());
        return out.size() - 1;
    }

    private void buildPlan() {
        List<ImmutableTaskGraph> gs = new ArrayList<>();
        GridScheduler scheduler = new GridScheduler();
        grids.clear();
        String init = graphName("init");
        List<Object> heaps = new ArrayList<>();
        heaps.add(stateArray);
        heaps.add(pow2);
        heaps.addAll(List.of(weightArrays));
        heaps.addAll(List.of(kvArrays));
        TaskGraph ig = new TaskGraph(init).transferToDevice(DataTransferMode.FIRST_EXECUTION, heaps.toArray())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip);
        // one task per heap would need one grid each; a single task touching them all keeps one
        ig.task("t", TornadoKernels::touchFloats, context, stateArray, ip);
        ig.task("b1", TornadoKernels::touchFloats, context, pow2, ip);
        for (int i = 2; i < heaps.size(); i++) {
            ig.task("b" + i, TornadoKernels::touchBytes, context, (ByteArray) heaps.get(i), ip);
        }
        ig.persistOnDevice(heaps.toArray());
        add(gs, scheduler, ig);
        for (int i = 1; i < heaps.size(); i++) {
            WorkerGrid2D grid = new WorkerGrid2D(1, 1);
            scheduler.addWorkerGrid(init + ".b" + i, grid);
        }
        gIn = add(gs, scheduler, consumer(graphName("in"), heaps)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, io)
                .task("t", TornadoKernels::floatsIn, context, stateArray, io, ip));
        gOut = add(gs, scheduler, consumer(graphName("out"), heaps)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                .task("t", TornadoKernels::floatsOut, context, stateArray, io, ip)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, io));
        gEw = add(gs, scheduler, consumer(graphName("ew"), heaps)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                .task("t", TornadoKernels::elementwise, context, stateArray, ip));
        gRope = add(gs, scheduler, consumer(graphName("rope"), heaps)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, ropeTable)
                .task("t", TornadoKernels::rope, context, stateArray, ropeTable, ip));
        int nw = weightArrays.length;
        gNorm = new int[nw];
        gMatmul = new int[nw];
        gWeightIn = new int[nw];
        for (int c = 0; c < nw; c++) {
            ByteArray w = weightArrays[c];
            gNorm[c] = add(gs, scheduler, consumer(graphName("norm" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, fp)
                    .task("t", TornadoKernels::rmsNorm, context, w, stateArray, pow2, ip, fp));
            gMatmul[c] = add(gs, scheduler, consumer(graphName("mm" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                    .task("t", TornadoKernels::matmul, context, w, stateArray, pow2, ip));
            gWeightIn[c] = add(gs, scheduler, consumer(graphName("win" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, bytesIo)
                    .task("t", TornadoKernels::bytesIn, context, w, bytesIo, ip));
        }
        int nk = kvArrays.length;
        gKvStore = new int[nk];
        gAttention = new int[nk];
        gKvIn = new int[nk];
        gKvOut = new int[nk];
        for (int c = 0; c < nk; c++) {
            ByteArray kv = kvArrays[c];
            gKvStore[c] = add(gs, scheduler, consumer(graphName("kvs" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                    .task("t", TornadoKernels::kvStore, context, kv, stateArray, pow2, ip));
            gAttention[c] = add(gs, scheduler, consumer(graphName("att" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, fp)
                    .task("t", TornadoKernels::attention, context, kv, stateArray, pow2, ip, fp));
            gKvIn[c] = add(gs, scheduler, consumer(graphName("kin" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip, bytesIo)
                    .task("t", TornadoKernels::bytesIn, context, kv, bytesIo, ip));
            gKvOut[c] = add(gs, scheduler, consumer(graphName("kout" + c), heaps)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                    .task("t", TornadoKernels::bytesOut, context, kv, bytesIo, ip)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, bytesIo));
        }
        List<Object> saved = new ArrayList<>();
        saved.add(stateArray);
        saved.addAll(List.of(kvArrays));
        // TornadoVM copies back only arrays a task of the graph uses: one task touches each
        TaskGraph save = consumer(graphName("save"), heaps).transferToDevice(DataTransferMode.EVERY_EXECUTION, ip)
                .task("t", TornadoKernels::touchFloats, context, stateArray, ip);
        for (int c = 0; c < kvArrays.length; c++) {
            save.task("k" + c, TornadoKernels::touchBytes, context, kvArrays[c], ip);
            scheduler.addWorkerGrid(graphName("save") + ".k" + c, new WorkerGrid2D(1, 1));
        }
        gSave = add(gs, scheduler, save.transferToHost(DataTransferMode.EVERY_EXECUTION, saved.toArray()));
        plan = new TornadoExecutionPlan(gs.toArray(new ImmutableTaskGraph[0]));
        // TornadoVM's default OpenCL flags include -cl-fast-relaxed-math, which lets the compiler assume
        // no NaN or infinity (a NaN weight or cache element then decodes as 0); the kernels keep IEEE semantics.
        plan.withDevice(device).withGridScheduler(scheduler).withCompilerFlags(TornadoVMBackendType.OPENCL, "-cl-mad-enable -w");
        if (tornadoMemoryLimit != null) {
            plan.withMemoryLimit(tornadoMemoryLimit);
        }
    }

    /**
     * A graph that shares every heap with the init graph. It consumes all of them, used or not:
     * TornadoVM 5.2.1 loses the device buffers of persisted arrays that a graph run in between did not
     * consume (found here; a graph consuming a subset made later graphs fail with a null buffer).
     */
    private TaskGraph consumer(String graph, List<Object> heaps) {
        TaskGraph g = new TaskGraph(graph);
        for (Object h : heaps) {
            g.consumeFromDevice(graphName("init"), h);
        }
        return g;
    }

    private void closePlan() {
        if (plan != null) {
            TornadoExecutionPlan p = plan;
            plan = null;
            try {
                p.freeDeviceMemory();
                p.close();
            } catch (Exception e) {
                LOG.log(Level.WARNING, name + ": closing a TornadoVM plan failed: " + e.getMessage(), e);
            }
        }
    }

    /** Frees the plan, its arrays and the scratch (the last handle closed, or the backend). */
    private void dropPlan() {
        closePlan();
        stateArray = null;
        weightArrays = new ByteArray[0];
        kvArrays = new ByteArray[0];
        ropeTable = null;
        ropeSpec = null;
        ropeStart = -1;
        account.release(scratchHeld);
        scratchHeld = 0;
        ropeFloatsWanted = 0;
    }

    /**
     * Runs graph {@code g} on (groupsX * local, groupsY) work-items in groups of (local, 1), and waits.
     * TornadoVM's out-of-memory becomes a {@link BackendMemoryException}.
     */
    private void launch(int g, long groupsX, long groupsY, int local) {
        if (groupsX == 0 || groupsY == 0) {
            return;
        }
        WorkerGrid2D grid = grids.get(g);
        grid.setGlobalWork(groupsX * local, groupsY, 1);
        grid.setLocalWork(local, 1, 1);
        try {
            plan.withGraph(g).execute();
        } catch (TornadoOutOfMemoryException | TornadoMemoryException e) {
            throw new BackendMemoryException(name, -1, handleBytes + scratchHeld, "TornadoVM arrays",
                    name + ": TornadoVM ran out of device memory: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalStateException(name + ": TornadoVM failed to run graph " + g + ": " + e.getMessage(), e);
        }
    }

    // ---- transfers --------------------------------------------------------------------------------

    private void uploadWeight(Bytes w) {
        byteCopyIn(gWeightIn[w.chunk], w.offset, w.source);
    }

    /** Writes {@code src} at byte {@code offset} of a byte heap through the staging array, in pieces. */
    private void byteCopyIn(int graph, long offset, MemorySegment src) {
        for (long done = 0; done < src.byteSize(); done += IO_BYTES) {
            int n = (int) Math.min(IO_BYTES, src.byteSize() - done);
            MemorySegment.copy(src, done, bytesIo.getSegment(), 0, n);
            ip.set(TornadoKernels.P_IO_OFF, Math.toIntExact(offset + done));
            ip.set(TornadoKernels.P_IO_COUNT, n);
            launch(graph, groups(n, EW_WG), 1, EW_WG);
        }
    }

    private void byteCopyOut(int graph, long offset, MemorySegment dst) {
        for (long done = 0; done < dst.byteSize(); done += IO_BYTES) {
            int n = (int) Math.min(IO_BYTES, dst.byteSize() - done);
            ip.set(TornadoKernels.P_IO_OFF, Math.toIntExact(offset + done));
            ip.set(TornadoKernels.P_IO_COUNT, n);
            launch(graph, groups(n, EW_WG), 1, EW_WG);
            MemorySegment.copy(bytesIo.getSegment(), 0, dst, done, n);
        }
    }

    static long groups(long items, int per) {
        return (items + per - 1) / per;
    }

    @Override
    protected void runWrite(Floats d, float[] src, int nRows) {
        ensureSealed();
        int count = nRows * d.cols;
        for (int done = 0; done < count; done += IO_FLOATS) {
            int n = Math.min(IO_FLOATS, count - done);
            MemorySegment.copy(src, done, io.getSegment(), ValueLayout.JAVA_FLOAT, 0, n);
            ip.set(TornadoKernels.P_IO_OFF, Math.toIntExact(d.offset + done));
            ip.set(TornadoKernels.P_IO_COUNT, n);
            launch(gIn, groups(n, EW_WG), 1, EW_WG);
        }
    }

    @Override
    protected void runRead(Floats s, float[] dst, int nRows) {
        ensureSealed();
        int count = nRows * s.cols;
        for (int done = 0; done < count; done += IO_FLOATS) {
            int n = Math.min(IO_FLOATS, count - done);
            ip.set(TornadoKernels.P_IO_OFF, Math.toIntExact(s.offset + done));
            ip.set(TornadoKernels.P_IO_COUNT, n);
            launch(gOut, groups(n, EW_WG), 1, EW_WG);
            MemorySegment.copy(io.getSegment(), ValueLayout.JAVA_FLOAT, 0, dst, done, n);
        }
    }

    @Override
    protected void runReadKv(Cache c, int rows, MemorySegment keys, MemorySegment values) {
        ensureSealed();
        byteCopyOut(gKvOut[c.chunk], c.keys, keys.asSlice(0, rows * c.keyRowBytes()));
        byteCopyOut(gKvOut[c.chunk], c.values, values.asSlice(0, rows * c.valueRowBytes()));
    }

    @Override
    protected void runWriteKv(Cache c, int rows, MemorySegment keys, MemorySegment values) {
        ensureSealed();
        byteCopyIn(gKvIn[c.chunk], c.keys, keys.asSlice(0, rows * c.keyRowBytes()));
        byteCopyIn(gKvIn[c.chunk], c.values, values.asSlice(0, rows * c.valueRowBytes()));
    }

    // ---- ops ----------------------------------------------------------------------------------------

    @Override
    protected void runRmsNorm(Floats out, Floats in, Bytes gamma, int nTokens, float eps) {
        if (gamma.type != GgmlType.F32) {
            throw new IllegalArgumentException(name + ": rms_norm takes an F32 gamma, got " + gamma.type);
        }
        ensureSealed();
        ip.set(TornadoKernels.P_NORM_OUT, Math.toIntExact(out.offset));
        ip.set(TornadoKernels.P_NORM_IN, Math.toIntExact(in.offset));
        ip.set(TornadoKernels.P_NORM_GAMMA, Math.toIntExact(gamma.offset));
        ip.set(TornadoKernels.P_NORM_DIM, in.cols);
        fp.set(0, eps);
        launch(gNorm[gamma.chunk], nTokens, 1, WG);
    }

    @Override
    protected void runMatmul(Floats out, Floats in, Bytes w, int nTokens) {
        ensureSealed();
        ip.set(TornadoKernels.P_MM_OUT, Math.toIntExact(out.offset));
        ip.set(TornadoKernels.P_MM_IN, Math.toIntExact(in.offset));
        ip.set(TornadoKernels.P_MM_W, Math.toIntExact(w.offset));
        ip.set(TornadoKernels.P_MM_ROW_BYTES, Math.toIntExact(w.rowBytes));
        ip.set(TornadoKernels.P_MM_ROWS, w.rows);
        ip.set(TornadoKernels.P_MM_COLS, w.cols);
        ip.set(TornadoKernels.P_MM_TYPE, typeCode(w.type));
        launch(gMatmul[w.chunk], w.rows, nTokens, WG);
    }

    /** The kernels' code of a weight or cache type ({@code TornadoKernels.T_*}). */
    static int typeCode(GgmlType type) {
        return switch (type) {
            case F32 -> TornadoKernels.T_F32;
            case F16 -> TornadoKernels.T_F16;
            case BF16 -> TornadoKernels.T_BF16;
            case Q8_0 -> TornadoKernels.T_Q8_0;
            case Q4_0 -> TornadoKernels.T_Q4_0;
            case Q4_1 -> TornadoKernels.T_Q4_1;
            case Q4_K -> TornadoKernels.T_Q4_K;
            case Q5_K -> TornadoKernels.T_Q5_K;
            case Q6_K -> TornadoKernels.T_Q6_K;
            default -> throw new IllegalArgumentException("no TornadoVM kernel reads " + type);
        };
    }

    @Override
    protected void runRope(Floats x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        int pairs = spec.rotatedDims() / 2;
        ropeFloatsWanted = Math.max(ropeFloatsWanted, 2L * nTokens * pairs);
        ensureSealed();
        if (!spec.equals(ropeSpec) || ropeStart != startPos || ropeRows != nTokens) {
            // cos and sin of every pair's angle at every row's position, in double as the CPU backend
            for (int t = 0; t < nTokens; t++) {
                for (int i = 0; i < pairs; i++) {
                    double theta = (double) (startPos + t) * spec.inverseFrequency(i);
                    ropeTable.set(2 * (t * pairs + i), (float) Math.cos(theta));
                    ropeTable.set(2 * (t * pairs + i) + 1, (float) Math.sin(theta));
                }
            }
            ropeSpec = spec;
            ropeStart = startPos;
            ropeRows = nTokens;
        }
        ip.set(TornadoKernels.P_ROPE_X, Math.toIntExact(x.offset));
        ip.set(TornadoKernels.P_ROPE_HEADS, headCount);
        ip.set(TornadoKernels.P_ROPE_HEAD_DIM, headDim);
        ip.set(TornadoKernels.P_ROPE_ROT, spec.rotatedDims());
        ip.set(TornadoKernels.P_ROPE_NEOX, spec.style() == RopeSpec.Style.NEOX ? 1 : 0);
        launch(gRope, groups((long) headCount * pairs, EW_WG), nTokens, EW_WG);
    }

    @Override
    protected void runKvStore(Cache c, Floats k, Floats v, int startPos, int nTokens) {
        ensureSealed();
        int sideGroups = (int) Math.max(storeGroups(c.keyType, c.kvDim), storeGroups(c.valueType, c.kvDim));
        ip.set(TornadoKernels.P_KV_KC, Math.toIntExact(c.keys));
        ip.set(TornadoKernels.P_KV_VC, Math.toIntExact(c.values));
        ip.set(TornadoKernels.P_KV_K, Math.toIntExact(k.offset));
        ip.set(TornadoKernels.P_KV_V, Math.toIntExact(v.offset));
        ip.set(TornadoKernels.P_KV_DIM, c.kvDim);
        ip.set(TornadoKernels.P_KV_KROW, Math.toIntExact(c.keyRowBytes()));
        ip.set(TornadoKernels.P_KV_VROW, Math.toIntExact(c.valueRowBytes()));
        ip.set(TornadoKernels.P_KV_KTYPE, typeCode(c.keyType));
        ip.set(TornadoKernels.P_KV_VTYPE, typeCode(c.valueType));
        ip.set(TornadoKernels.P_KV_SIDE_GROUPS, sideGroups);
        ip.set(TornadoKernels.P_KV_START, startPos);
        launch(gKvStore[c.chunk], 2L * sideGroups, nTokens, EW_WG);
    }

    private static long storeGroups(GgmlType type, int kvDim) {
        return groups(kvDim / (type.blockElements() > 1 ? 32 : 1), EW_WG);
    }

    @Override
    protected void runAttention(Floats o, Floats q, Cache c, AttentionShape shape, int startPos, int nTokens) {
        ensureSealed();
        ip.set(TornadoKernels.P_AT_OUT, Math.toIntExact(o.offset));
        ip.set(TornadoKernels.P_AT_Q, Math.toIntExact(q.offset));
        ip.set(TornadoKernels.P_AT_KC, Math.toIntExact(c.keys));
        ip.set(TornadoKernels.P_AT_VC, Math.toIntExact(c.values));
        ip.set(TornadoKernels.P_AT_KROW, Math.toIntExact(c.keyRowBytes()));
        ip.set(TornadoKernels.P_AT_VROW, Math.toIntExact(c.valueRowBytes()));
        ip.set(TornadoKernels.P_AT_HEADS, shape.headCount());
        ip.set(TornadoKernels.P_AT_KV_HEADS, shape.kvHeadCount());
        ip.set(TornadoKernels.P_AT_HEAD_DIM, shape.headDim());
        ip.set(TornadoKernels.P_AT_START, startPos);
        ip.set(TornadoKernels.P_AT_KTYPE, typeCode(c.keyType));
        ip.set(TornadoKernels.P_AT_VTYPE, typeCode(c.valueType));
        fp.set(0, shape.scale());
        launch(gAttention[c.chunk], shape.headCount(), nTokens, WG);
    }

    @Override
    protected void runElementwise(Op op, Floats a, Floats b, int nTokens) {
        elementwise(op == Op.SWIGLU ? TornadoKernels.EW_SWIGLU : TornadoKernels.EW_ADD, a.offset, b.offset,
                (long) nTokens * a.cols);
    }

    @Override
    protected void runCopyRows(Floats d, int dstRow, Floats s, int srcRow, int nRows) {
        elementwise(TornadoKernels.EW_COPY, d.offset + (long) dstRow * d.cols, s.offset + (long) srcRow * s.cols,
                (long) nRows * d.cols);
    }

    private void elementwise(int opCode, long a, long b, long count) {
        ensureSealed();
        ip.set(TornadoKernels.P_EW_A, Math.toIntExact(a));
        ip.set(TornadoKernels.P_EW_B, Math.toIntExact(b));
        ip.set(TornadoKernels.P_EW_COUNT, Math.toIntExact(count));
        ip.set(TornadoKernels.P_EW_OP, opCode);
        launch(gEw, groups(count, EW_WG), 1, EW_WG);
    }

    @Override
    protected void onClose() {
        dropPlan();
        account.release(handleBytes);
        handleBytes = 0;
    }

    @Override
    public String toString() {
        return name + " backend (" + info.name() + ", " + info.vendor() + ", budget " + budget + " bytes)";
    }
}
