package dev.spillway.offload.device;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.Op;
import dev.spillway.engine.backend.OpChecks;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The device backend shared by OpenCL, CUDA and HIP, written once against a {@link DeviceRuntime}.
 *
 * <p>Weights are uploaded in their GGUF block format when loaded; each layer's KV cache and the
 * activation buffers live in device memory; {@link #write}/{@link #read} move token rows across the
 * layer boundary. Every op is one or two launches of a kernel of {@code native/kernels/spillway_kernels.inc}
 * on the runtime's in-order queue, so ops run asynchronously until a {@link #read}.
 *
 * <p>Memory: every allocation is counted ({@link #allocatedBytes()}) and checked against the budget,
 * {@code min(device memory the API reports, Options.memoryLimit)}, before the API is called. The
 * device's own out-of-memory errors ({@link GpuMemoryError}) become
 * {@link dev.spillway.engine.backend.BackendMemoryException}s here. The backend owns its runtime and
 * closes it in {@link #close()}.
 *
 * <p>All calls hold one lock, so contexts sharing a model are serialized.
 */
public final class DeviceBackend implements Backend {

    /**
     * @param memoryLimit bytes this backend may allocate at most (0 = as much as the device reports)
     * @param gate        consulted before each allocation (fault injection in tests)
     */
    public record Options(long memoryLimit, AllocationGate gate) {
        public Options {
            if (memoryLimit < 0) {
                throw new IllegalArgumentException("device memory limit must not be negative, got " + memoryLimit);
            }
            Objects.requireNonNull(gate, "gate");
        }

        public static Options defaults() {
            return new Options(0, AllocationGate.OPEN);
        }

        public Options withMemoryLimit(long bytes) {
            return new Options(bytes, gate);
        }

        public Options withAllocationGate(AllocationGate g) {
            return new Options(memoryLimit, g);
        }
    }

    static final Set<GgmlType> MATMUL_TYPES = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16,
            GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);
    static final Set<GgmlType> KV_TYPES = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16,
            GgmlType.Q8_0, GgmlType.Q4_0);

    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Heap tensors are uploaded through native staging of at most this many bytes at a time. */
    private static final long UPLOAD_CHUNK = 16L << 20;

    private final DeviceRuntime runtime;
    private final String name;
    private final DeviceMemory memory;
    private final ReentrantLock lock = new ReentrantLock();
    private final Map<String, DeviceRuntime.Kernel> kernels = new HashMap<>();
    private int liveHandles;        // guarded by lock
    private boolean closed;         // guarded by lock
    // RoPE angles of the last (spec, startPos, nTokens), computed in double on the host.
    private DeviceBuffer ropeTable; // (capacity rows, rot/2, 2) F32, scratch; guarded by lock
    private RopeSpec ropeSpec;
    private double[] ropeInverseFrequency;
    private int ropeStart = -1;
    private int ropeRows;

    /** Takes ownership of {@code runtime}: {@link #close()} closes it. */
    public DeviceBackend(DeviceRuntime runtime, Options options) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        Objects.requireNonNull(options, "options");
        this.name = runtime.api() + ":" + runtime.device().index();
        long reported = runtime.device().totalBytes();
        long budget = options.memoryLimit() > 0 ? Math.min(reported, options.memoryLimit()) : reported;
        this.memory = new DeviceMemory(runtime, name, budget, options.gate());
    }

    @Override
    public String name() {
        return name;
    }

    public DeviceInfo device() {
        return runtime.device();
    }

    /** The most this backend allocates: min(device memory, the user's limit). */
    public long budget() {
        return memory.budget();
    }

    @Override
    public boolean supports(Op op, GgmlType type) {
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

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Weight loadWeight(TensorView tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (!MATMUL_TYPES.contains(tensor.type())) {
            throw new IllegalArgumentException(name + " cannot hold weight " + tensor.name() + " of type " + tensor.type()
                    + "; supported: " + MATMUL_TYPES);
        }
        MemorySegment data = tensor.data();   // (rows, cols) in the file's block format
        return locked(() -> {
            checkOpen();
            DeviceBuffer buffer = memory.allocate(data.byteSize(), "weight " + tensor.name());
            try {
                upload(buffer, data);
            } catch (RuntimeException | Error e) {
                memory.free(buffer);
                throw e;
            }
            liveHandles++;
            return new DeviceWeight(this, tensor.name(), tensor.type(), tensor.rows(), tensor.cols(), tensor.rowBytes(), buffer);
        });
    }

    /** Copies all of {@code src} to the start of {@code dst}; heap memory goes through native staging. */
    private void upload(DeviceBuffer dst, MemorySegment src) {
        try {
            if (src.isNative()) {
                runtime.upload(dst, 0, src);
                return;
            }
            try (Arena staging = Arena.ofConfined()) {
                MemorySegment chunk = staging.allocate(Math.min(UPLOAD_CHUNK, src.byteSize()), 64);
                for (long off = 0; off < src.byteSize(); off += chunk.byteSize()) {
                    long n = Math.min(chunk.byteSize(), src.byteSize() - off);
                    MemorySegment part = chunk.asSlice(0, n);
                    part.copyFrom(src.asSlice(off, n));
                    runtime.upload(dst, off, part);
                }
            }
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "upload of " + src.byteSize() + " bytes");
        }
    }

    @Override
    public KvCache allocateKv(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType) {
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        OpChecks.kvCache(name, KV_TYPES, contextSize, kvDim, keyType, valueType);
        return locked(() -> {
            checkOpen();
            DeviceBuffer keys = memory.allocate(contextSize * keyType.bytesFor(kvDim),
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
        });
    }

    @Override
    public Activations allocateActivations(int rows, int cols) {
        OpChecks.activationShape(rows, cols);
        return locked(() -> {
            checkOpen();
            DeviceBuffer buffer = memory.allocate(4L * rows * cols, "activations (" + rows + ", " + cols + ")");
            liveHandles++;
            return new DeviceActivations(this, rows, cols, buffer);
        });
    }

    void release(DeviceActivations a) {
        releaseHandle(a.closed, () -> {
            a.closed = true;
            memory.free(a.buffer);
        });
    }

    void release(DeviceWeight w) {
        releaseHandle(w.closed, () -> {
            w.closed = true;
            memory.free(w.buffer);
        });
    }

    void release(DeviceKvCache c) {
        releaseHandle(c.closed, () -> {
            c.closed = true;
            memory.free(c.keys);
            memory.free(c.values);
        });
    }

    /** Runs {@code free} once per handle; when the last handle goes, so does the scratch. */
    private void releaseHandle(boolean alreadyClosed, Runnable free) {
        lock.lock();
        try {
            if (alreadyClosed) {
                return;
            }
            free.run();
            if (!closed && --liveHandles == 0) {
                freeScratch();
            }
        } finally {
            lock.unlock();
        }
    }

    private void freeScratch() {
        memory.free(ropeTable);
        ropeTable = null;
        ropeStart = -1;
        ropeRows = 0;
    }

    @Override
    public void write(Activations dst, float[] src, int nRows) {
        Objects.requireNonNull(src, "src");
        locked(() -> {
            DeviceActivations d = activations(dst, "dst");
            OpChecks.transfer(d, nRows, src.length, "write");
            int n = nRows * d.cols;
            if (n > 0) {
                uploadFloats(d.buffer, src, n);
            }
            return null;
        });
    }

    private void uploadFloats(DeviceBuffer dst, float[] src, int n) {
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment seg = staging.allocate(4L * n, 64);
            MemorySegment.copy(src, 0, seg, LE_FLOAT, 0, n);
            runtime.upload(dst, 0, seg);
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "upload of " + 4L * n + " bytes");
        }
    }

    @Override
    public void read(Activations src, float[] dst, int nRows) {
        Objects.requireNonNull(dst, "dst");
        locked(() -> {
            DeviceActivations s = activations(src, "src");
            OpChecks.transfer(s, nRows, dst.length, "read");
            int n = nRows * s.cols;
            if (n == 0) {
                return null;
            }
            try (Arena staging = Arena.ofConfined()) {
                MemorySegment seg = staging.allocate(4L * n, 64);
                runtime.download(s.buffer, 0, seg);
                MemorySegment.copy(seg, LE_FLOAT, 0, dst, 0, n);
            } catch (GpuMemoryError e) {
                throw memory.translate(e, -1, "download of " + 4L * n + " bytes");
            }
            return null;
        });
    }

    // ---- ops ------------------------------------------------------------------------------------

    @Override
    public void rmsNorm(Activations out, Activations in, Weight gamma, int nTokens, float eps) {
        locked(() -> {
            DeviceActivations o = activations(out, "out");
            DeviceActivations i = activations(in, "in");
            DeviceWeight g = weight(gamma, "gamma");
            OpChecks.rmsNorm(o, i, g, nTokens);
            launch("spw_rms_norm", nTokens, 1, KernelGeometry.NORM_GROUP,
                    new KernelArgs().buffer(o.buffer).buffer(i.buffer).buffer(g.buffer).i32(i.cols).f32(eps));
            return null;
        });
    }

    @Override
    public void matmul(Activations out, Activations in, Weight w, int nTokens) {
        locked(() -> {
            DeviceActivations o = activations(out, "out");
            DeviceActivations i = activations(in, "in");
            DeviceWeight wt = weight(w, "w");
            OpChecks.matmul(o, i, wt, nTokens);
            launch("spw_matmul_" + suffix(wt.type), wt.rows, KernelGeometry.groups(nTokens, KernelGeometry.MATMUL_TOKENS),
                    KernelGeometry.MATMUL_GROUP, new KernelArgs().buffer(o.buffer).buffer(i.buffer).buffer(wt.buffer)
                            .i32(wt.rows).i32(wt.cols).i64(wt.rowBytes).i32(nTokens));
            return null;
        });
    }

    @Override
    public void rope(Activations x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        Objects.requireNonNull(spec, "spec");
        locked(() -> {
            DeviceActivations a = activations(x, "x");
            OpChecks.rope(a, nTokens, headCount, headDim, startPos, spec);
            if (nTokens == 0) {
                return null;
            }
            DeviceBuffer table = ropeTable(spec, startPos, nTokens);
            int pairs = spec.rotatedDims() / 2;
            launch("spw_rope", KernelGeometry.groups((long) headCount * pairs, KernelGeometry.ROW_GROUP), nTokens,
                    KernelGeometry.ROW_GROUP, new KernelArgs().buffer(a.buffer).buffer(table).i32(headCount).i32(headDim)
                            .i32(spec.rotatedDims()).i32(spec.style() == RopeSpec.Style.NEOX ? 1 : 0));
            return null;
        });
    }

    /**
     * The cos/sin table (nTokens, rot/2, 2) for positions startPos.., as the CPU backend computes it:
     * {@code theta = pos * inverseFrequency} in double. Rebuilt only when the spec or the positions
     * change (every layer of a batch reuses it); the in-order queue orders the upload after the
     * launches that read the previous table.
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
        long bytes = 8L * pairs * nTokens;
        if (ropeTable == null || ropeTable.byteSize() < bytes) {
            memory.free(ropeTable);
            ropeTable = null;
            ropeTable = memory.allocate(bytes, "rope table (" + nTokens + ", " + pairs + ")");
        }
        float[] cs = new float[2 * pairs * nTokens];
        for (int t = 0; t < nTokens; t++) {
            for (int i = 0; i < pairs; i++) {
                double theta = (double) (startPos + t) * ropeInverseFrequency[i];
                cs[2 * (t * pairs + i)] = (float) Math.cos(theta);
                cs[2 * (t * pairs + i) + 1] = (float) Math.sin(theta);
            }
        }
        uploadFloats(ropeTable, cs, cs.length);
        ropeStart = startPos;
        ropeRows = nTokens;
        return ropeTable;
    }

    @Override
    public void kvStore(KvCache cache, Activations k, Activations v, int startPos, int nTokens) {
        locked(() -> {
            DeviceKvCache c = kvCache(cache);
            DeviceActivations ka = activations(k, "k");
            DeviceActivations va = activations(v, "v");
            OpChecks.kvStore(c, ka, va, startPos, nTokens);
            storeSide(c.keys, c.keyType, c.keyRowBytes(), ka, c.kvDim(), startPos, nTokens);
            storeSide(c.values, c.valueType, c.valueRowBytes(), va, c.kvDim(), startPos, nTokens);
            return null;
        });
    }

    private void storeSide(DeviceBuffer side, GgmlType type, long rowBytes, DeviceActivations src, int kvDim, int startPos,
                           int nTokens) {
        int perItem = type.blockElements() > 1 ? KernelGeometry.KV_BLOCK : 1;
        launch("spw_kv_store_" + suffix(type), KernelGeometry.groups(kvDim / perItem, KernelGeometry.ROW_GROUP), nTokens,
                KernelGeometry.ROW_GROUP, new KernelArgs().buffer(side).buffer(src.buffer).i32(kvDim).i64(rowBytes)
                        .i32(startPos));
    }

    @Override
    public void attention(Activations out, Activations q, KvCache cache, AttentionShape shape, int startPos, int nTokens) {
        Objects.requireNonNull(shape, "shape");
        locked(() -> {
            DeviceActivations o = activations(out, "out");
            DeviceActivations qa = activations(q, "q");
            DeviceKvCache c = kvCache(cache);
            OpChecks.attention(o, qa, c, shape, startPos, nTokens);
            launch("spw_attention_" + suffix(c.keyType) + "_" + suffix(c.valueType), shape.headCount(), nTokens,
                    KernelGeometry.ATTENTION_GROUP, new KernelArgs().buffer(o.buffer).buffer(qa.buffer).buffer(c.keys)
                            .buffer(c.values).i64(c.keyRowBytes()).i64(c.valueRowBytes()).i32(shape.headCount())
                            .i32(shape.kvHeadCount()).i32(shape.headDim()).f32(shape.scale()).i32(startPos));
            return null;
        });
    }

    @Override
    public void swiglu(Activations gate, Activations up, int nTokens) {
        elementwise("spw_swiglu", gate, up, nTokens);
    }

    @Override
    public void add(Activations acc, Activations other, int nTokens) {
        elementwise("spw_add", acc, other, nTokens);
    }

    private void elementwise(String kernel, Activations target, Activations other, int nTokens) {
        locked(() -> {
            DeviceActivations a = activations(target, "target");
            DeviceActivations b = activations(other, "other");
            OpChecks.elementwise(a, b, nTokens, kernel);
            int count = nTokens * a.cols;
            launch(kernel, KernelGeometry.groups(count, KernelGeometry.ROW_GROUP), 1, KernelGeometry.ROW_GROUP,
                    new KernelArgs().buffer(a.buffer).buffer(b.buffer).i32(count));
            return null;
        });
    }

    @Override
    public void copyRows(Activations dst, int dstRow, Activations src, int srcRow, int nRows) {
        locked(() -> {
            DeviceActivations d = activations(dst, "dst");
            DeviceActivations s = activations(src, "src");
            OpChecks.copyRows(d, dstRow, s, srcRow, nRows);
            int count = nRows * d.cols;
            launch("spw_copy_rows", KernelGeometry.groups(count, KernelGeometry.ROW_GROUP), 1, KernelGeometry.ROW_GROUP,
                    new KernelArgs().buffer(d.buffer).i32(dstRow * d.cols).buffer(s.buffer).i32(srcRow * s.cols).i32(count));
            return null;
        });
    }

    /** Waits for every enqueued op (a {@link #read} does this by itself). */
    public void synchronize() {
        locked(() -> {
            checkOpen();
            runtime.synchronize();
            return null;
        });
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                freeScratch();
                memory.freeAll();   // handles still open are freed with the backend
            } finally {
                runtime.close();
            }
        } finally {
            lock.unlock();
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
        return type.name().toLowerCase(Locale.ROOT);
    }

    /** Enqueues {@code kernel} on a (groupsX, groupsY) grid of 1-D groups of {@code groupSize}; empty grids are skipped. */
    private void launch(String kernel, int groupsX, int groupsY, int groupSize, KernelArgs args) {
        if (groupsX == 0 || groupsY == 0) {
            return;
        }
        DeviceRuntime.Kernel k = kernels.computeIfAbsent(kernel, runtime::kernel);
        try {
            runtime.launch(k, new int[] {groupsX, groupsY, 1}, new int[] {groupSize, 1, 1}, args);
        } catch (GpuMemoryError e) {
            throw memory.translate(e, -1, "launch of " + kernel);
        }
    }

    private <T> T locked(Supplier<T> body) {
        lock.lock();
        try {
            return body.get();
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the " + name + " backend is closed");
        }
    }

    private DeviceActivations activations(Activations a, String what) {
        checkOpen();
        Objects.requireNonNull(a, what);
        if (!(a instanceof DeviceActivations d) || d.owner != this) {
            throw new IllegalArgumentException(what + ": " + a + " does not belong to the " + name + " backend");
        }
        if (d.closed) {
            throw new IllegalStateException(what + ": the activation buffer is closed");
        }
        return d;
    }

    private DeviceWeight weight(Weight w, String what) {
        checkOpen();
        Objects.requireNonNull(w, what);
        if (!(w instanceof DeviceWeight d) || d.owner != this) {
            throw new IllegalArgumentException(what + ": " + w.name() + " was not loaded by the " + name + " backend");
        }
        if (d.closed) {
            throw new IllegalStateException(what + ": weight " + d.name() + " is closed");
        }
        return d;
    }

    private DeviceKvCache kvCache(KvCache k) {
        checkOpen();
        Objects.requireNonNull(k, "cache");
        if (!(k instanceof DeviceKvCache d) || d.owner != this) {
            throw new IllegalArgumentException("cache: " + k + " does not belong to the " + name + " backend");
        }
        if (d.closed) {
            throw new IllegalStateException("cache: the KV cache is closed");
        }
        return d;
    }
}
