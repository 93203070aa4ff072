package dev.spillway.engine.backend;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The seam between the model graph and the hardware that runs it.
 *
 * <p>A backend owns three kinds of memory, each through an {@link AutoCloseable} handle that its
 * owner closes: {@link Weight}s (per model), {@link KvCache}s and {@link Activations} (per context).
 * The graph ({@link dev.spillway.engine.model.LlamaGraph}) places each transformer layer on one backend
 * and calls the ops below on that backend's handles only; it never mixes handles of two backends in
 * one call. Activations cross from one backend to the next through host memory with
 * {@link #read}/{@link #write}, once per layer boundary and batch. A KV cache moves from one backend
 * to another (live spill) through host memory with {@link #readKv}/{@link #writeKv}, which copy its raw
 * rows in the storage format ({@link KvTransfer#copy} does both).
 *
 * <p>Ops may run asynchronously (a device backend enqueues them); {@link #read} waits for everything
 * enqueued before it. All ops take {@code nTokens}, the number of leading rows of the activation
 * buffers that hold the current batch; shapes in the comments are (rows, cols).
 *
 * <p>Implementations are thread-safe in the sense that concurrent calls from two contexts are
 * serialized; a backend is shared by every context of a model.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and placement tables, e.g. {@code cpu} or {@code opencl:0}. */
    String name();

    /** What this backend allocates for each kind of handle (the estimator asks the same). */
    Sizing sizing();

    /** The budget every allocation of this backend is counted in (the memory monitor's account). */
    dev.spillway.engine.memory.MemoryAccount memory();

    /** Whether {@code op} can run with this element type (see {@link Op} for which type is meant). */
    boolean supports(Op op, GgmlType type);

    /**
     * Makes a weight available on this backend. The CPU backend keeps a zero-copy view of
     * {@code tensor.data()}; a device backend uploads it in its block format. The caller owns the
     * result and closes it. {@code tensor.data()} must stay valid for as long as the weight is used.
     *
     * @throws dev.spillway.engine.backend.BackendMemoryException when the backend has no room
     */
    Weight loadWeight(TensorView tensor);

    /** Allocates one layer's K/V cache for {@code contextSize} tokens. */
    KvCache allocateKv(int contextSize, int kvDim, GgmlType keyType, GgmlType valueType);

    /** Allocates an F32 activation matrix of {@code rows} x {@code cols}. */
    Activations allocateActivations(int rows, int cols);

    /** Host to backend: copies {@code nRows} rows (row-major, {@code dst.cols()} floats each) from {@code src}. */
    void write(Activations dst, float[] src, int nRows);

    /** Backend to host: waits for pending work, then copies the first {@code nRows} rows into {@code dst}. */
    void read(Activations src, float[] dst, int nRows);

    /**
     * Cache to host: waits for pending work, then copies rows {@code 0 .. rows-1} of K into
     * {@code keys} and of V into {@code values}, raw, in the cache's storage format: row {@code p} of
     * a side is {@code type.bytesFor(kvDim)} bytes at {@code p * type.bytesFor(kvDim)}. The segments
     * (native or heap, writable) must hold at least {@code rows} such rows each.
     *
     * @throws IllegalArgumentException for a cache of another backend, {@code rows} outside
     *                                  {@code 0 .. contextSize}, or a segment too small or read-only
     * @throws IllegalStateException    for a closed cache or backend
     */
    void readKv(KvCache src, int rows, MemorySegment keys, MemorySegment values);

    /**
     * Host to cache: the reverse of {@link #readKv}, rows {@code 0 .. rows-1} of K from {@code keys}
     * and of V from {@code values}, in the cache's storage format. When it returns the caller may
     * change or free the segments; the rows are in place for every op called afterwards.
     *
     * @throws IllegalArgumentException as {@link #readKv} (the segments may be read-only here)
     * @throws IllegalStateException    for a closed cache or backend
     */
    void writeKv(KvCache dst, int rows, MemorySegment keys, MemorySegment values);

    // ---- ops -------------------------------------------------------------------------------

    /** out (n, dim) = in (n, dim) normalized by its root mean square, times gamma (1, dim). */
    void rmsNorm(Activations out, Activations in, Weight gamma, int nTokens, float eps);

    /** out (n, w.rows) = in (n, w.cols) x w^T, for a weight w of w.rows rows of w.cols elements. */
    void matmul(Activations out, Activations in, Weight w, int nTokens);

    /**
     * {@code outs[i] (n, weights[i].rows) = in (n, cols) . weights[i]^T} for every i: weights that read
     * the same input (Q, K and V; gate and up) as one op, so that a backend can run them in one launch
     * and prepare the input once. The default runs {@link #matmul} for each.
     *
     * @throws IllegalArgumentException when the lists differ in length or are empty, or as {@link #matmul}
     */
    default void matmuls(List<Activations> outs, Activations in, List<Weight> weights, int nTokens) {
        OpChecks.matmulLists(outs, weights);
        for (int i = 0; i < outs.size(); i++) {
            matmul(outs.get(i), in, weights.get(i), nTokens);
        }
    }

    /**
     * {@code normed = rmsNorm(x) * gamma}, then {@link #matmuls matmuls(outs, normed, weights)}: a norm
     * feeding the matmuls that read it, as one op (a backend can normalize as it reads {@code x}).
     * {@code normed} is scratch: its rows may or may not be written. The default runs {@link #rmsNorm},
     * then {@link #matmuls}.
     */
    default void rmsNormMatmuls(Activations normed, Activations x, Weight gamma, float eps, List<Activations> outs,
                                List<Weight> weights, int nTokens) {
        rmsNorm(normed, x, gamma, nTokens, eps);
        matmuls(outs, normed, weights, nTokens);
    }

    /**
     * {@code out (n, w.rows) = (silu(gate) * up) (n, cols) . w^T}: the feed-forward block's SwiGLU
     * feeding its down projection, as one op (a backend can gate the input as it reads it). The
     * rows of {@code gate} may be overwritten. The default runs {@link #swiglu}, then {@link #matmul}.
     */
    default void swigluMatmul(Activations out, Activations gate, Activations up, Weight w, int nTokens) {
        swiglu(gate, up, nTokens);
        matmul(out, gate, w, nTokens);
    }

    /**
     * Rotates the first {@code spec.rotatedDims()} elements of each of {@code headCount} heads of
     * {@code headDim} elements in every row of {@code x} (n, headCount * headDim), in place; row
     * {@code t} is at position {@code startPos + t}.
     */
    void rope(Activations x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec);

    /**
     * {@link #rope} of q ({@code attention.headCount()} heads) and of k ({@code kvHeadCount()} heads) at
     * the same positions, as one op (one launch on a device). The default runs {@link #rope} twice.
     */
    default void ropeQk(Activations q, Activations k, int nTokens, AttentionShape attention, int startPos, RopeSpec spec) {
        rope(q, nTokens, attention.headCount(), attention.headDim(), startPos, spec);
        rope(k, nTokens, attention.kvHeadCount(), attention.headDim(), startPos, spec);
    }

    /** Stores k (n, kvDim) and v (n, kvDim) as cache rows {@code startPos .. startPos+n-1}. */
    void kvStore(KvCache cache, Activations k, Activations v, int startPos, int nTokens);

    /**
     * Causal attention: for each row t of q (n, qDim), at position {@code startPos + t}, each query
     * head attends over cache rows {@code 0 .. startPos + t} of its KV head; writes out (n, qDim).
     */
    void attention(Activations out, Activations q, KvCache cache, AttentionShape shape, int startPos, int nTokens);

    /** gate (n, dim) = silu(gate) * up (n, dim), in place. */
    void swiglu(Activations gate, Activations up, int nTokens);

    /** acc (n, dim) += other (n, dim). */
    void add(Activations acc, Activations other, int nTokens);

    /** dst rows {@code dstRow ..} = src rows {@code srcRow ..}, {@code nRows} rows of {@code src.cols()} floats. */
    void copyRows(Activations dst, int dstRow, Activations src, int srcRow, int nRows);

    /**
     * Allocates now the scratch that contexts of {@code shape} use (a device backend's RoPE table and
     * its attention partials), {@link Sizing#scratchBytes sizing().scratchBytes(shape)}, so that a
     * context's whole memory is allocated when it is created and a forward pass allocates nothing
     * more. The scratch is shared by the backend's contexts and lives until the last handle is
     * closed. The default does nothing (the CPU backend's scratch is host memory it sizes by itself).
     *
     * @throws dev.spillway.engine.backend.BackendMemoryException when the backend has no room
     */
    default void reserveScratch(ScratchShape shape) {
        java.util.Objects.requireNonNull(shape, "shape");
    }

    /** Bytes this backend has allocated and not yet freed (weights, caches, activations, scratch). */
    long allocatedBytes();

    /** Frees the backend's own resources (threads, queues). Handles it gave out must be closed first. */
    @Override
    void close();
}
