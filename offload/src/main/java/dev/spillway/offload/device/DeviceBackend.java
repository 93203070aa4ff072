package dev.spillway.offload.device;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The device backend shared by OpenCL, CUDA and HIP, written once against a {@link DeviceRuntime}.
 *
 * <p>Weights are uploaded in their GGUF block format when loaded; each layer's KV cache and the
 * activation buffers live in device memory; {@link #write}/{@link #read} move token rows across the
 * layer boundary, and {@link #readKv}/{@link #writeKv} move a cache's rows (synchronously, when
 * layers move between backends). Every op is one or two launches of a kernel of
 * {@code native/kernels/spillway_kernels.inc} on the runtime's in-order queue, so ops run
 * asynchronously until a {@link #read}.
 *
 * <p>Memory: every allocation is counted ({@link #allocatedBytes()}) and checked against the budget,
 * {@code min(device memory the API reports, Options.memoryLimit)}, before the API is called. The
 * device's own out-of-memory errors ({@link GpuMemoryError}) become
 * {@link dev.spillway.engine.backend.BackendMemoryException}s here. The backend owns its runtime and
 * closes it in {@link #close()}. Host memory for copies is staged in native buffers that grow on
 * demand and live until {@link #close()} ({@link #stagingBytes()}; not counted as device memory).
 *
 * <p>All calls hold one lock, so contexts sharing a model are serialized. That lets a launch reuse
 * the backend's argument list and grid arrays, and kernels are looked up once ({@link KernelTable}):
 * an op allocates nothing. Uploads are not waited for; a staging buffer is refilled only after the
 * queue was drained since its last upload (see {@link DeviceRuntime#upload}).
 */
public final class DeviceBackend extends SerializedBackend<DeviceActivations, DeviceWeight, DeviceKvCache>
        implements OffloadBackend {

    /**
     * @param memoryLimit bytes this backend may allocate at most (0 = as much as the device reports)
     * @param gate        consulted before each allocation (fault injection in tests)
     * @param memory      the monitor's account for this device, every allocation is reserved in it
     *                    first; null = an unlimited account of the backend's own
     * @param runtimeBytes the API's fixed cost on the device measured at open (context, module), for
     *                    reports; -1 = not measured
     */
    public record Options(long memoryLimit, AllocationGate gate, MemoryAccount memory, long runtimeBytes) {
        public Options {
            if (memoryLimit < 0) {
                throw new IllegalArgumentException("device memory limit must not be negative, got " + memoryLimit);
            }
            Objects.requireNonNull(gate, "gate");
        }

        public static Options defaults() {
            return new Options(0, AllocationGate.OPEN, null, -1);
        }

        public Options withMemoryLimit(long bytes) {
            return new Options(bytes, gate, memory, runtimeBytes);
        }

        public Options withAllocationGate(AllocationGate g) {
            return new Options(memoryLimit, g, memory, runtimeBytes);
        }

        public Options withMemory(MemoryAccount account) {
            return new Options(memoryLimit, gate, account, runtimeBytes);
        }

        public Options withRuntimeBytes(long bytes) {
            return new Options(memoryLimit, gate, memory, bytes);
        }
    }

    /**
     * What a device backend allocates: weights in their GGUF block format, K/V caches and F32
     * activations at their exact sizes, and as scratch the RoPE table, (maxTokens, rot/2, 2) F32, and
     * the one-token attention's partials, (n_head, splits, head_dim + 2) F32 (see {@link #attentionSplits}).
     */
    public static final Sizing SIZING = new Sizing() {
        @Override
        public long weightBytes(GgmlType type, long rows, long cols) {
            return Math.multiplyExact(rows, type.bytesFor(cols));
        }

        @Override
        public long scratchBytes(ScratchShape shape) {
            return ropeTableBytes(shape.maxTokens(), shape.ropePairs())
                    + attentionPartialBytes(shape.contextSize(), shape.headCount(), shape.headDim());
        }
    };

    /** The RoPE table of a batch: (maxTokens, ropePairs, 2) F32 (cos, sin). */
    static long ropeTableBytes(int maxTokens, int ropePairs) {
        return 8L * ropePairs * maxTokens;
    }

    /**
     * Splits of the one-token attention over {@code keys} keys, {@value KernelGeometry#ATTENTION_SPLIT_KEYS}
     * keys each; 0 when one work-group per head walks them all (one split would add a launch for nothing).
     */
    static int attentionSplits(int keys) {
        return keys > KernelGeometry.ATTENTION_SPLIT_KEYS ? KernelGeometry.groups(keys, KernelGeometry.ATTENTION_SPLIT_KEYS) : 0;
    }

    /** The one-token attention's partials for contexts of up to {@code contextSize} keys: (n_head, splits, head_dim + 2) F32. */
    static long attentionPartialBytes(int contextSize, int headCount, int headDim) {
        return 4L * headCount * attentionSplits(contextSize) * (headDim + 2);
    }

    /** The shared kernel source has a matmul for every computable type and attention for every cache type. */
    static final Set<GgmlType> MATMUL_TYPES = GgmlType.computableTypes();
    static final Set<GgmlType> KV_TYPES = KvCache.ELEMENT_TYPES;

    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Heap tensors are uploaded through native staging of at most this many bytes at a time. */
    private static final long UPLOAD_CHUNK = 16L << 20;

    private final DeviceRuntime runtime;
    private final String name;
    private final DeviceMemory memory;
    private final MemoryAccount account;
    private final long runtimeBytes;
    // Launch state, reused under the lock: calls are serialized, so nothing is allocated per launch.
    private final KernelTable kernels;
    private final KernelArgs args = new KernelArgs();
    private final int[] grid = {1, 1, 1};
    private final int[] group = {1, 1, 1};
    /** Weights one matmul launch takes (the kernels' out0..2 and w0..2). */
    static final int MAX_FUSED = 3;
    /** The matmul kernels' input modes ({@code SPW_INPUT_*}). */
    static final int INPUT_PLAIN = 0, INPUT_GATED = 1, INPUT_NORMED = 2;
    private final DeviceActivations[] launchOuts = new DeviceActivations[MAX_FUSED];
    private final DeviceWeight[] launchWeights = new DeviceWeight[MAX_FUSED];
    private final int maxGroupsY;
    // Host staging (not device memory): token rows and logits, and the RoPE table's host side.
    private final HostStaging transfers = new HostStaging();
    private final HostStaging ropeHost = new HostStaging();
    private int liveHandles;        // guarded by lock
    // RoPE angles of the last (spec, startPos, nTokens), computed in double on the host.
    private DeviceBuffer ropeTable; // (capacity rows, rot/2, 2) F32, scratch; guarded by lock
    private DeviceBuffer attentionPartials; // (n_head, splits, head_dim + 2) F32, scratch; guarded by lock
    private RopeSpec ropeSpec;
    private double[] ropeInverseFrequency;
    private int ropeStart = -1;
    private int ropeRows;

    /** Takes ownership of {@code runtime}: {@link #close()} closes it. */
    public DeviceBackend(DeviceRuntime runtime, Options options) {
        super(DeviceActivations.class, DeviceWeight.class, DeviceKvCache.class);
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        Objects.requireNonNull(options, "options");
        this.name = runtime.api() + ":" + runtime.device().index();
        long reported = runtime.device().totalBytes();
        long budget = options.memoryLimit() > 0 ? Math.min(reported, options.memoryLimit()) : reported;
        this.runtimeBytes = options.runtimeBytes();
        this.account = options.memory() != null ? options.memory() : MemoryAccount.unlimited(name);
        this.memory = new DeviceMemory(runtime, name, budget, options.gate(), account);
        this.kernels = new KernelTable(runtime);
        this.maxGroupsY = runtime.maxGroupsY();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DeviceInfo device() {
        return runtime.device();
    }

    /** Bytes of scratch held now (the RoPE table and the attention partials), shared by every context. */
    @Override
    public long scratchBytes() {
        lock.lock();
        try {
            return (ropeTable == null ? 0 : ropeTable.byteSize()) + (attentionPartials == null ? 0 : attentionPartials.byteSize());
        } finally {
            lock.unlock();
        }
    }

    /** The API's fixed cost on the device measured when it was opened (context, module); -1 when not measured. */
    @Override
    public long runtimeBytes() {
        return runtimeBytes;
    }

    /** The most this backend allocates: min(device memory, the user's limit). */
    @Override
    public long budget() {
        return memory.budget();
    }

    @Override
    public Sizing sizing() {
        return SIZING;
    }

    @Override
    public MemoryAccount memory() {
        return account;
    }

    @Override
    public boolean supports(Op op, GgmlType type) {
        return coversLikeTheCpu(op, type);
    }

    /**
     * What a device backend whose kernels cover every type the CPU backend does supports: matmul in
     * every computable weight type, KV store and attention in every cache type, the row ops in F32.
     * The shared kernels do; so do TornadoVM's.
     */
    public static boolean coversLikeTheCpu(Op op, GgmlType type) {
        return switch (op) {
            case MATMUL -> MATMUL_TYPES.contains(type);
            case ATTENTION, KV_STORE -> KV_TYPES.contains(type);
            case RMS_NORM, ROPE, SWIGLU, ADD, COPY_ROWS -> type == GgmlType.F32;
        };
    }

    @Override
    public long allocatedBytes() {
        lock.lock();
        try {
            return memory.allocatedBytes();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Bytes of native host memory held for staging copies (grown on demand, freed by {@link #close()}).
     * Host memory: {@link #allocatedBytes()} and the budget count device memory only.
     */
    public long stagingBytes() {
        lock.lock();
        try {
            return transfers.capacity() + ropeHost.capacity();
        } finally {
            lock.unlock();
        }
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Weight loadWeight(TensorView tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (!MATMUL_TYPES.contains(tensor.type())) {
            throw new IllegalArgumentException(name + " cannot hold weight " + tensor.name() + " of type " + tensor.type()
                    + "; supported: " + MATMUL_TYPES);
        }
        MemorySegment data = tensor.data();   // (rows, cols) in the file's block format
        lock.lock();
        try {
            checkOpen();
            long bytes = SIZING.weightBytes(tensor.type(), tensor.rows(), tensor.cols());
            if (bytes != data.byteSize()) {
                throw new IllegalArgumentException(name + ": weight " + tensor.name() + " holds " + data.byteSize()
                        + " bytes, its shape and type need " + bytes);
            }
            DeviceBuffer buffer = memory.allocate(bytes, "weight " + tensor.name());
            try {
                upload(buffer, data);
            } catch (RuntimeException | Error e) {
                memory.free(buffer);
                throw e;
            }
            liveHandles++;
            return new DeviceWeight(this, tensor.name(), tensor.type(), tensor.rows(), tensor.cols(), tensor.rowBytes(), buffer);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Copies all of {@code src} to the start of {@code dst} and waits for the copy, so the caller may
     * change or free {@code src} when this returns (a weight's mapping, {@link #writeKv}'s segments);
     * heap memory goes through native chunks of its own (loading is no hot path, and the staging
     * buffers stay sized for token rows).
     */
    private void upload(DeviceBuffer dst, MemorySegment src) {
        try {
            if (src.isNative()) {
                runtime.upload(dst, 0, src);
                drainQueue();
                return;
            }
            try (Arena chunks = Arena.ofConfined()) {
                MemorySegment chunk = chunks.allocate(Math.min(UPLOAD_CHUNK, src.byteSize()), 64);
                for (long off = 0; off < src.byteSize(); off += chunk.byteSize()) {
                    long n = Math.min(chunk.byteSize(), src.byteSize() - off);
                    MemorySegment part = chunk.asSlice(0, n);
                    part.copyFrom(src.asSlice(off, n));
                    runtime.upload(dst, off, part);
                    drainQueue();   // before the chunk is refilled or freed
                }
            }
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "upload", "upload of " + src.byteSize() + " bytes");
        }
    }

    /**
     * Copies {@code dst.byteSize()} bytes from the start of {@code src} into {@code dst}, after every
     * op enqueued before it; heap memory goes through native chunks, as in {@link #upload}.
     */
    private void download(DeviceBuffer src, MemorySegment dst) {
        try {
            if (dst.isNative()) {
                runtime.download(src, 0, dst);
            } else {
                try (Arena chunks = Arena.ofConfined()) {
                    MemorySegment chunk = chunks.allocate(Math.min(UPLOAD_CHUNK, dst.byteSize()), 64);
                    for (long off = 0; off < dst.byteSize(); off += chunk.byteSize()) {
                        long n = Math.min(chunk.byteSize(), dst.byteSize() - off);
                        MemorySegment part = chunk.asSlice(0, n);
                        runtime.download(src, off, part);
                        dst.asSlice(off, n).copyFrom(part);
                    }
                }
            }
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "download", "download of " + dst.byteSize() + " bytes");
        }
        uploadsCompleted();   // a download waits for everything enqueued before it
    }

    @Override
    public KvCache allocateKv(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        OpChecks.kvCache(name, KV_TYPES, contextSize, kvDim, keyType, valueType);
        lock.lock();
        try {
            checkOpen();
            DeviceBuffer keys = memory.allocate(contextSize * keyType.bytesFor(kvDim),   // SIZING.kvBytes = K + V
                    "K cache (" + contextSize + ", " + kvDim + ") " + keyType);
            DeviceBuffer values;
            try {
                values = memory.allocate(contextSize * valueType.bytesFor(kvDim),
                        "V cache (" + contextSize + ", " + kvDim + ") " + valueType);
            } catch (RuntimeException | Error e) {
                memory.free(keys);
                throw e;
            }
            liveHandles++;
            return new DeviceKvCache(this, contextSize, kvDim, keyType, valueType, keys, values);
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
            DeviceBuffer buffer = memory.allocate(SIZING.activationBytes(rows, cols), "activations (" + rows + ", " + cols + ")");
            liveHandles++;
            return new DeviceActivations(this, rows, cols, buffer);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Frees a handle's memory once: the flag is tested and set under the lock, so concurrent closes
     * of one handle free it and count it down once. When the last handle goes, so does the scratch.
     */
    void release(DeviceHandle handle) {
        lock.lock();
        try {
            if (handle.closed) {
                return;
            }
            handle.closed = true;
            handle.free(memory);
            if (!isClosed() && --liveHandles == 0) {
                freeScratch();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Handles allocated and not yet closed (tests). */
    int liveHandles() {
        lock.lock();
        try {
            return liveHandles;
        } finally {
            lock.unlock();
        }
    }

    private void freeScratch() {
        memory.free(attentionPartials);
        attentionPartials = null;
        memory.free(ropeTable);
        ropeTable = null;
        ropeStart = -1;
        ropeRows = 0;
    }

    @Override
    protected void runWrite(DeviceActivations d, float[] src, int nRows) {
        int n = nRows * d.cols;
        if (n > 0) {
            MemorySegment host = staging(transfers, 4L * n);
            MemorySegment.copy(src, 0, host, LE_FLOAT, 0, n);
            uploadFrom(transfers, d.buffer, host);
        }
    }

    @Override
    protected void runRead(DeviceActivations s, float[] dst, int nRows) {
        int n = nRows * s.cols;
        if (n == 0) {
            return;
        }
        MemorySegment host = staging(transfers, 4L * n);
        try {
            runtime.download(s.buffer, 0, host);
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "download", "download of " + 4L * n + " bytes");
        }
        uploadsCompleted();   // a download waits for everything enqueued before it
        MemorySegment.copy(host, LE_FLOAT, 0, dst, 0, n);
    }

    /**
     * {@code bytes} of {@code staging}'s memory to fill. If an upload from it may still be reading
     * it, waits for the queue first: a read after a write (which its download would wait for
     * anyway), or two batches without a read in between. The RoPE table has a staging buffer of its
     * own, so within a forward pass nothing waits before the read of its result.
     */
    private MemorySegment staging(HostStaging staging, long bytes) {
        if (staging.inFlight) {
            drainQueue();
        }
        return staging.segment(bytes);
    }

    /** Enqueues the copy of {@code host}, memory of {@code staging}, to the start of {@code dst}; the copy may read it until the next synchronization. */
    private void uploadFrom(HostStaging staging, DeviceBuffer dst, MemorySegment host) {
        staging.inFlight = true;
        try {
            runtime.upload(dst, 0, host);
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "upload", "upload of " + host.byteSize() + " bytes");
        }
    }

    /** Waits for every enqueued op (a {@link #read} does this by itself). */
    public void synchronize() {
        lock.lock();
        try {
            checkOpen();
            drainQueue();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for the queue; no upload reads a staging buffer afterwards. */
    private void drainQueue() {
        runtime.synchronize();
        uploadsCompleted();
    }

    private void uploadsCompleted() {
        transfers.inFlight = false;
        ropeHost.inFlight = false;
    }

    /** Downloads wait for the queue, so the rows include every kvStore enqueued before. */
    @Override
    protected void runReadKv(DeviceKvCache c, int rows, MemorySegment keys, MemorySegment values) {
        if (rows == 0) {
            drainQueue();
            return;
        }
        download(c.keys, keys.asSlice(0, rows * c.keyRowBytes()));
        download(c.values, values.asSlice(0, rows * c.valueRowBytes()));
    }

    /**
     * Uploads straight from native segments (through native chunks from heap ones) and waits for the
     * copies before it returns, since the caller owns the segments and may free them at once. Not a
     * hot path: it runs when a context's layers move between backends.
     */
    @Override
    protected void runWriteKv(DeviceKvCache c, int rows, MemorySegment keys, MemorySegment values) {
        if (rows == 0) {
            return;
        }
        upload(c.keys, keys.asSlice(0, rows * c.keyRowBytes()));
        upload(c.values, values.asSlice(0, rows * c.valueRowBytes()));
    }

    // ---- ops ------------------------------------------------------------------------------------

    @Override
    protected void runRmsNorm(DeviceActivations o, DeviceActivations i, DeviceWeight g, int nTokens, float eps) {
        args.clear().buffer(o.buffer).buffer(i.buffer).buffer(g.buffer).i32(i.cols).f32(eps);
        launch(kernels.get(KernelTable.Fixed.RMS_NORM), nTokens, 1, KernelGeometry.NORM_GROUP);
    }

    @Override
    protected void runMatmul(DeviceActivations o, DeviceActivations i, DeviceWeight wt, int nTokens) {
        launchOuts[0] = o;
        launchWeights[0] = wt;
        launchMatmul(1, i, null, null, 0f, nTokens);
    }

    /** Weights of one type and width go {@value #MAX_FUSED} at a time into one launch; others alone. */
    @Override
    protected void runMatmuls(List<DeviceActivations> outs, DeviceActivations in, List<DeviceWeight> weights, int nTokens) {
        launchRuns(outs, in, weights, null, 0f, nTokens);
    }

    /** The matmuls normalize x as they stage it (normed is not written). */
    @Override
    protected void runRmsNormMatmuls(DeviceActivations normed, DeviceActivations x, DeviceWeight gamma, float eps,
                                     List<DeviceActivations> outs, List<DeviceWeight> weights, int nTokens) {
        launchRuns(outs, x, weights, gamma, eps, nTokens);
    }

    /** Runs of one weight type and width, {@value #MAX_FUSED} at most, each one launch. */
    private void launchRuns(List<DeviceActivations> outs, DeviceActivations in, List<DeviceWeight> weights, DeviceWeight gamma,
                            float eps, int nTokens) {
        int k = 0;
        while (k < outs.size()) {
            DeviceWeight first = weights.get(k);
            int count = 0;
            while (k + count < outs.size() && count < MAX_FUSED && weights.get(k + count).type == first.type
                    && weights.get(k + count).cols == first.cols) {
                launchOuts[count] = outs.get(k + count);
                launchWeights[count] = weights.get(k + count);
                count++;
            }
            launchMatmul(count, in, null, gamma, eps, nTokens);
            k += count;
        }
    }

    /** One launch: the matmul kernels gate their input as they stage it. */
    @Override
    protected void runSwigluMatmul(DeviceActivations out, DeviceActivations gate, DeviceActivations up, DeviceWeight w,
                                   int nTokens) {
        launchOuts[0] = out;
        launchWeights[0] = w;
        launchMatmul(1, gate, up, null, 0f, nTokens);
    }

    /**
     * One launch of the mat-vec (one token) or the tiled matmul for {@link #launchOuts}/{@link
     * #launchWeights} [0, count), which share type and width; with {@code up}, the input is
     * silu(in) * up; with {@code gamma}, it is rmsNorm(in) * gamma. The kernels take three weights:
     * absent ones have 0 rows (their buffers repeat the first).
     */
    private void launchMatmul(int count, DeviceActivations in, DeviceActivations up, DeviceWeight gamma, float eps, int nTokens) {
        try {
            DeviceWeight w0 = launchWeights[0];
            boolean one = nTokens == 1;   // generation: a team of work-items per row, each weight byte read once
            DeviceRuntime.Kernel k = one ? kernels.matvec(w0.type) : kernels.matmul(w0.type);
            int perGroup = one ? KernelGeometry.MATVEC_ROWS : KernelGeometry.MATMUL_ROWS;
            int groupsY = one ? 1 : tokenGroups(k, nTokens, KernelGeometry.MATMUL_TOKENS);
            int groupsX = 0;
            args.clear();
            for (int j = 0; j < MAX_FUSED; j++) {
                args.buffer((j < count ? launchOuts[j] : launchOuts[0]).buffer);
            }
            args.buffer(in.buffer).buffer((up != null ? up : in).buffer);
            for (int j = 0; j < MAX_FUSED; j++) {
                args.buffer((j < count ? launchWeights[j] : w0).buffer);
            }
            for (int j = 0; j < MAX_FUSED; j++) {
                int rows = j < count ? launchWeights[j].rows : 0;
                args.i32(rows);
                groupsX += KernelGeometry.groups(rows, perGroup);
            }
            int mode = up != null ? INPUT_GATED : gamma != null ? INPUT_NORMED : INPUT_PLAIN;
            args.i32(w0.cols).i64(w0.rowBytes).buffer(gamma != null ? gamma.buffer : in.buffer).f32(eps).i32(mode);
            if (!one) {
                args.i32(nTokens);
            }
            launch(k, groupsX, groupsY, one ? KernelGeometry.MATVEC_GROUP : KernelGeometry.MATMUL_GROUP);
        } finally {
            Arrays.fill(launchOuts, null);
            Arrays.fill(launchWeights, null);
        }
    }

    @Override
    protected void runRope(DeviceActivations a, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        launchRope(a, headCount, a, 0, nTokens, headDim, startPos, spec);
    }

    /** q and k in one launch. */
    @Override
    protected void runRopeQk(DeviceActivations q, DeviceActivations k, int nTokens, AttentionShape attention, int startPos,
                             RopeSpec spec) {
        launchRope(q, attention.headCount(), k, attention.kvHeadCount(), nTokens, attention.headDim(), startPos, spec);
    }

    /** spw_rope over x's heads, then x2's ({@code heads2} = 0: x alone). */
    private void launchRope(DeviceActivations x, int heads, DeviceActivations x2, int heads2, int nTokens, int headDim,
                            int startPos, RopeSpec spec) {
        if (nTokens == 0) {
            return;
        }
        DeviceRuntime.Kernel k = kernels.get(KernelTable.Fixed.ROPE);
        int groupsY = tokenGroups(k, nTokens, 1);   // before the table is built for the batch
        DeviceBuffer table = ropeTable(spec, startPos, nTokens);
        int pairs = spec.rotatedDims() / 2;
        args.clear().buffer(x.buffer).buffer(x2.buffer).buffer(table).i32(heads).i32(heads2).i32(headDim)
                .i32(spec.rotatedDims()).i32(spec.style() == RopeSpec.Style.NEOX ? 1 : 0);
        launch(k, KernelGeometry.groups((long) (heads + heads2) * pairs, KernelGeometry.ROW_GROUP), groupsY, KernelGeometry.ROW_GROUP);
    }

    /**
     * The cos/sin table (nTokens, rot/2, 2) for positions startPos.., as the CPU backend computes it:
     * {@code theta = pos * inverseFrequency} in double. Cached by (spec, startPos, nTokens), so of the
     * 2 x n_layer rope calls of a forward pass only the first builds and uploads it; the upload is
     * not waited for (the in-order queue orders it after the launches that read the previous table,
     * and before those that read this one), and its host side has a staging buffer of its own, which
     * the next pass finds free once a read has drained the queue.
     */
    private DeviceBuffer ropeTable(RopeSpec spec, int startPos, int nTokens) {
        if (!spec.equals(ropeSpec)) {
            ropeSpec = spec;
            ropeInverseFrequency = new double[spec.rotatedDims() / 2];
            for (int i = 0; i < ropeInverseFrequency.length; i++) {
                ropeInverseFrequency[i] = spec.inverseFrequency(i);
            }
            ropeStart = -1;
        }
        if (ropeTable != null && ropeStart == startPos && ropeRows == nTokens) {
            return ropeTable;
        }
        int pairs = ropeInverseFrequency.length;
        long bytes = ropeTableBytes(nTokens, pairs);
        ensureRopeCapacity(bytes, nTokens, pairs);
        MemorySegment host = staging(ropeHost, bytes);
        for (int t = 0; t < nTokens; t++) {
            for (int i = 0; i < pairs; i++) {
                double theta = (double) (startPos + t) * ropeInverseFrequency[i];
                long at = 8L * (t * pairs + i);
                host.set(LE_FLOAT, at, (float) Math.cos(theta));
                host.set(LE_FLOAT, at + 4, (float) Math.sin(theta));
            }
        }
        ropeStart = -1;   // until the upload is enqueued
        uploadFrom(ropeHost, ropeTable, host);
        ropeStart = startPos;
        ropeRows = nTokens;
        return ropeTable;
    }

    /**
     * Makes the RoPE table hold at least {@code bytes}: frees a smaller one and allocates it anew
     * (its contents are rebuilt by the next {@link #ropeTable}); the only place the table is allocated.
     */
    private void ensureRopeCapacity(long bytes, int nTokens, int pairs) {
        if (ropeTable == null || ropeTable.byteSize() < bytes) {
            memory.free(ropeTable);
            ropeTable = null;
            ropeStart = -1;
            ropeTable = memory.allocate(bytes, "rope table (" + nTokens + ", " + pairs + ")");
        }
    }

    /**
     * Grows the scratch now to what contexts of {@code shape} use ({@link #SIZING}: the RoPE table for
     * batches of up to {@code maxTokens} and the attention partials for contexts of up to
     * {@code contextSize}; nothing when each is that large already), so a forward pass allocates
     * nothing. A backend holds one scratch for all its contexts, so it is counted once per backend,
     * not per context. Like the lazily allocated RoPE table, it is freed when the last live handle
     * closes (or the backend does), so a reservation made while handles are live lasts until all of
     * them are closed; one made while none is live lasts until handles are opened and all closed
     * again, or the backend closes. Without a reservation that covers a context, the one-token
     * attention runs unsplit (one work-group per head).
     */
    @Override
    public void reserveScratch(ScratchShape shape) {
        Objects.requireNonNull(shape, "shape");
        long rope = ropeTableBytes(shape.maxTokens(), shape.ropePairs());
        long partials = attentionPartialBytes(shape.contextSize(), shape.headCount(), shape.headDim());
        lock.lock();
        try {
            checkOpen();
            if (rope > 0) {
                ensureRopeCapacity(rope, shape.maxTokens(), shape.ropePairs());
            }
            if (partials > 0 && (attentionPartials == null || attentionPartials.byteSize() < partials)) {
                memory.free(attentionPartials);
                attentionPartials = null;
                attentionPartials = memory.allocate(partials, "attention partials (" + shape.headCount() + ", "
                        + attentionSplits(shape.contextSize()) + ", " + (shape.headDim() + 2) + ")");
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    protected void runKvStore(DeviceKvCache c, DeviceActivations ka, DeviceActivations va, int startPos, int nTokens) {
        DeviceRuntime.Kernel k = kernels.get(KernelTable.Fixed.KV_STORE);
        int groupsY = tokenGroups(k, nTokens, 1);
        int sideGroups = Math.max(storeGroups(c.keyType, c.kvDim()), storeGroups(c.valueType, c.kvDim()));
        args.clear().buffer(c.keys).buffer(c.values).buffer(ka.buffer).buffer(va.buffer).i32(c.kvDim()).i64(c.keyRowBytes())
                .i64(c.valueRowBytes()).i32(kvTypeCode(c.keyType)).i32(kvTypeCode(c.valueType)).i32(sideGroups).i32(startPos);
        launch(k, 2 * sideGroups, groupsY, KernelGeometry.ROW_GROUP);
    }

    /** Groups that store one side's row: an element per work-item, or a block of 32 for block types. */
    private static int storeGroups(GgmlType type, int kvDim) {
        return KernelGeometry.groups(kvDim / (type.blockElements() > 1 ? KernelGeometry.KV_BLOCK : 1), KernelGeometry.ROW_GROUP);
    }

    /** The kernel's code of a cache type ({@code SPW_KV_*}). */
    static int kvTypeCode(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            case Q8_0 -> 3;
            case Q4_0 -> 4;
            default -> throw new IllegalArgumentException("no KV cache of " + type + " on a device");
        };
    }

    @Override
    protected void runAttention(DeviceActivations o, DeviceActivations qa, DeviceKvCache c, AttentionShape shape, int startPos,
                                int nTokens) {
        int splits = attentionSplits(startPos + 1);
        if (nTokens == 1 && splits > 0 && splits <= maxGroupsY && attentionPartials != null
                && attentionPartials.byteSize() >= 4L * shape.headCount() * splits * (shape.headDim() + 2)) {
            // one token over a long context: the keys in splits on headCount x splits groups, then their combination
            args.clear().buffer(attentionPartials).buffer(qa.buffer).buffer(c.keys).buffer(c.values).i64(c.keyRowBytes())
                    .i64(c.valueRowBytes()).i32(shape.headCount()).i32(shape.kvHeadCount()).i32(shape.headDim())
                    .f32(shape.scale()).i32(startPos + 1).i32(splits);
            launch(kernels.attentionSplit(c.keyType, c.valueType), shape.headCount(), splits, KernelGeometry.ATTENTION_GROUP);
            args.clear().buffer(o.buffer).buffer(attentionPartials).i32(shape.headDim()).i32(splits);
            launch(kernels.get(KernelTable.Fixed.ATTENTION_COMBINE), shape.headCount(), 1, KernelGeometry.ATTENTION_GROUP);
            return;
        }
        DeviceRuntime.Kernel k = kernels.attention(c.keyType, c.valueType);
        int groupsY = tokenGroups(k, nTokens, 1);
        args.clear().buffer(o.buffer).buffer(qa.buffer).buffer(c.keys).buffer(c.values).i64(c.keyRowBytes())
                .i64(c.valueRowBytes()).i32(shape.headCount()).i32(shape.kvHeadCount()).i32(shape.headDim())
                .f32(shape.scale()).i32(startPos);
        launch(k, shape.headCount(), groupsY, KernelGeometry.ATTENTION_GROUP);
    }

    @Override
    protected void runElementwise(Op op, DeviceActivations a, DeviceActivations b, int nTokens) {
        KernelTable.Fixed kernel = op == Op.SWIGLU ? KernelTable.Fixed.SWIGLU : KernelTable.Fixed.ADD;
        int count = nTokens * a.cols;
        args.clear().buffer(a.buffer).buffer(b.buffer).i32(count);
        launch(kernels.get(kernel), KernelGeometry.groups(count, KernelGeometry.ROW_GROUP), 1, KernelGeometry.ROW_GROUP);
    }

    @Override
    protected void runCopyRows(DeviceActivations d, int dstRow, DeviceActivations s, int srcRow, int nRows) {
        int count = nRows * d.cols;
        args.clear().buffer(d.buffer).i32(dstRow * d.cols).buffer(s.buffer).i32(srcRow * s.cols).i32(count);
        launch(kernels.get(KernelTable.Fixed.COPY_ROWS), KernelGeometry.groups(count, KernelGeometry.ROW_GROUP), 1,
                KernelGeometry.ROW_GROUP);
    }

    /**
     * Frees the device memory (handles still open are freed with the backend), then closes the
     * runtime, which waits for the queue, and only then the staging buffers that uploads may read.
     */
    @Override
    protected void onClose() {
        try {
            freeScratch();
            memory.freeAll();
        } finally {
            try {
                runtime.close();
            } finally {
                transfers.close();
                ropeHost.close();
            }
        }
    }

    @Override
    public String toString() {
        DeviceInfo d = runtime.device();
        return name + " backend (" + d.name() + ", " + d.vendor() + ", budget " + memory.budget() + " bytes)";
    }

    // ---- dispatch and validation -----------------------------------------------------------------

    /** The kernel-name suffix of a type: {@code f32}, {@code q8_0}, {@code q4_k}, … */
    static String suffix(GgmlType type) {
        return KernelTable.suffix(type);
    }

    /**
     * Enqueues {@code kernel} with {@link #args} on a (groupsX, groupsY) grid of 1-D groups of
     * {@code groupSize}; empty grids are skipped.
     */
    private void launch(DeviceRuntime.Kernel kernel, int groupsX, int groupsY, int groupSize) {
        if (groupsX == 0 || groupsY == 0) {
            return;
        }
        grid[0] = groupsX;
        grid[1] = groupsY;
        group[0] = groupSize;
        try {
            runtime.launch(kernel, grid, group, args);
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "launch", "launch of " + kernel.name());
        }
    }

    /**
     * The groups in grid dimension Y of a launch of {@code kernel} with one group per
     * {@code tokensPerGroup} tokens of the batch.
     *
     * @throws IllegalArgumentException when the runtime's grid cannot hold them (CUDA and HIP: 65535)
     */
    private int tokenGroups(DeviceRuntime.Kernel kernel, int nTokens, int tokensPerGroup) {
        int groups = KernelGeometry.groups(nTokens, tokensPerGroup);
        if (groups > maxGroupsY) {
            throw new IllegalArgumentException(name + ": " + kernel.name() + " cannot run a batch of " + nTokens
                    + " tokens: " + runtime.api() + " launches at most " + maxGroupsY + " groups in grid dimension Y, one per "
                    + (tokensPerGroup == 1 ? "token" : tokensPerGroup + " tokens") + "; use a batch size (-b) of at most "
                    + (long) maxGroupsY * tokensPerGroup);
        }
        return groups;
    }
}
