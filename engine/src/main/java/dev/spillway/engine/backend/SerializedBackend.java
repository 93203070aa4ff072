package dev.spillway.engine.backend;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The shape every backend's ops share, written once: take the backend's lock, check that each
 * handle is one of this backend's and still open, check the shapes ({@link OpChecks}), then run the
 * op on the typed handles ({@code run...}), and release the lock however the op ends. A backend
 * implements the {@code run...} methods and its allocations; every op of the {@link Backend} seam goes
 * through here, so no backend can forget a check, and calls from several contexts are serialized.
 *
 * <p>The handles a backend gives out implement {@link Owned} as well as their seam interface, so that
 * the checks here need nothing else from them.
 *
 * @param <A> this backend's activations
 * @param <W> this backend's weights
 * @param <K> this backend's KV caches
 */
public abstract class SerializedBackend<A extends Activations & SerializedBackend.Owned,
        W extends Weight & SerializedBackend.Owned, K extends KvCache & SerializedBackend.Owned> implements Backend {

    /** What the ops check of a handle: the backend that made it, and whether it was closed. */
    public interface Owned {
        /** The backend that allocated or loaded this handle. */
        Backend owner();

        /** Whether this handle was closed (its memory released). */
        boolean isClosed();
    }

    /** Held by every op, allocation and release. */
    protected final ReentrantLock lock = new ReentrantLock();
    private final Class<A> activationType;
    private final Class<W> weightType;
    private final Class<K> cacheType;
    private boolean closed;   // guarded by lock
    // The resolved handles of a matmuls op, reused (guarded by lock; emptied when the op ends), so the
    // per-token fused ops allocate no lists.
    private final List<A> matmulOuts = new ArrayList<>();
    private final List<W> matmulWeights = new ArrayList<>();

    protected SerializedBackend(Class<A> activationType, Class<W> weightType, Class<K> cacheType) {
        this.activationType = Objects.requireNonNull(activationType, "activationType");
        this.weightType = Objects.requireNonNull(weightType, "weightType");
        this.cacheType = Objects.requireNonNull(cacheType, "cacheType");
    }

    // ---- the ops: lock, resolve, check, run ----------------------------------------------------------

    @Override
    public final void write(Activations dst, float[] src, int nRows) {
        Objects.requireNonNull(src, "src");
        lock.lock();
        try {
            A d = activations(dst, "dst");
            OpChecks.transfer(d, nRows, src.length, "write");
            runWrite(d, src, nRows);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void read(Activations src, float[] dst, int nRows) {
        Objects.requireNonNull(dst, "dst");
        lock.lock();
        try {
            A s = activations(src, "src");
            OpChecks.transfer(s, nRows, dst.length, "read");
            runRead(s, dst, nRows);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void readKv(KvCache src, int rows, MemorySegment keys, MemorySegment values) {
        lock.lock();
        try {
            K c = kvCache(src);
            OpChecks.kvTransfer(c, rows, keys, values, true);
            runReadKv(c, rows, keys, values);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void writeKv(KvCache dst, int rows, MemorySegment keys, MemorySegment values) {
        lock.lock();
        try {
            K c = kvCache(dst);
            OpChecks.kvTransfer(c, rows, keys, values, false);
            runWriteKv(c, rows, keys, values);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void rmsNorm(Activations out, Activations in, Weight gamma, int nTokens, float eps) {
        lock.lock();
        try {
            A o = activations(out, "out");
            A i = activations(in, "in");
            W g = weight(gamma, "gamma");
            OpChecks.rmsNorm(o, i, g, nTokens);
            runRmsNorm(o, i, g, nTokens, eps);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void matmul(Activations out, Activations in, Weight w, int nTokens) {
        lock.lock();
        try {
            A o = activations(out, "out");
            A i = activations(in, "in");
            W wt = weight(w, "w");
            if (!supports(Op.MATMUL, wt.type())) {
                throw new IllegalArgumentException("matmul: the " + name() + " backend has no kernel for " + wt);
            }
            OpChecks.matmul(o, i, wt, nTokens);
            runMatmul(o, i, wt, nTokens);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void matmuls(List<Activations> outs, Activations in, List<Weight> weights, int nTokens) {
        lock.lock();
        try {
            A i = activations(in, "in");
            checkMatmuls(outs, i, weights, nTokens, matmulOuts, matmulWeights);
            runMatmuls(matmulOuts, i, matmulWeights, nTokens);
        } finally {
            matmulOuts.clear();
            matmulWeights.clear();
            lock.unlock();
        }
    }

    @Override
    public final void rmsNormMatmuls(Activations normed, Activations x, Weight gamma, float eps, List<Activations> outs,
                                     List<Weight> weights, int nTokens) {
        lock.lock();
        try {
            A n = activations(normed, "normed");
            A i = activations(x, "x");
            W g = weight(gamma, "gamma");
            if (n == i) {
                throw new IllegalArgumentException("rmsNormMatmuls: normed and x must be different buffers");
            }
            OpChecks.rmsNorm(n, i, g, nTokens);
            checkMatmuls(outs, n, weights, nTokens, matmulOuts, matmulWeights);
            if (matmulOuts.contains(i)) {
                throw new IllegalArgumentException("rmsNormMatmuls: an output is x");
            }
            runRmsNormMatmuls(n, i, g, eps, matmulOuts, matmulWeights, nTokens);
        } finally {
            matmulOuts.clear();
            matmulWeights.clear();
            lock.unlock();
        }
    }

    /** Resolves and checks the (out, weight) pairs of a matmuls reading {@code in} into {@code os} and {@code ws}. */
    private void checkMatmuls(List<Activations> outs, A in, List<Weight> weights, int nTokens, List<A> os, List<W> ws) {
        OpChecks.matmulLists(outs, weights);
        for (int k = 0; k < outs.size(); k++) {
            A o = activations(outs.get(k), "outs[" + k + "]");
            W wt = weight(weights.get(k), "weights[" + k + "]");
            if (!supports(Op.MATMUL, wt.type())) {
                throw new IllegalArgumentException("matmuls: the " + name() + " backend has no kernel for " + wt);
            }
            OpChecks.matmul(o, in, wt, nTokens);
            if (os.contains(o)) {
                throw new IllegalArgumentException("matmuls: outs[" + k + "] is also an earlier output");
            }
            os.add(o);
            ws.add(wt);
        }
    }

    @Override
    public final void swigluMatmul(Activations out, Activations gate, Activations up, Weight w, int nTokens) {
        lock.lock();
        try {
            A o = activations(out, "out");
            A g = activations(gate, "gate");
            A u = activations(up, "up");
            W wt = weight(w, "w");
            if (!supports(Op.MATMUL, wt.type())) {
                throw new IllegalArgumentException("swigluMatmul: the " + name() + " backend has no kernel for " + wt);
            }
            OpChecks.swigluMatmul(o, g, u, wt, nTokens);
            runSwigluMatmul(o, g, u, wt, nTokens);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void rope(Activations x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        Objects.requireNonNull(spec, "spec");
        lock.lock();
        try {
            A a = activations(x, "x");
            OpChecks.rope(a, nTokens, headCount, headDim, startPos, spec);
            runRope(a, nTokens, headCount, headDim, startPos, spec);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void ropeQk(Activations q, Activations k, int nTokens, AttentionShape attention, int startPos, RopeSpec spec) {
        Objects.requireNonNull(spec, "spec");
        lock.lock();
        try {
            A qa = activations(q, "q");
            A ka = activations(k, "k");
            if (qa == ka) {
                throw new IllegalArgumentException("ropeQk: q and k must be different buffers");
            }
            OpChecks.rope(qa, nTokens, attention.headCount(), attention.headDim(), startPos, spec);
            OpChecks.rope(ka, nTokens, attention.kvHeadCount(), attention.headDim(), startPos, spec);
            runRopeQk(qa, ka, nTokens, attention, startPos, spec);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void kvStore(KvCache cache, Activations k, Activations v, int startPos, int nTokens) {
        lock.lock();
        try {
            K c = kvCache(cache);
            A ka = activations(k, "k");
            A va = activations(v, "v");
            OpChecks.kvStore(c, ka, va, startPos, nTokens);
            runKvStore(c, ka, va, startPos, nTokens);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void attention(Activations out, Activations q, KvCache cache, AttentionShape shape, int startPos, int nTokens) {
        Objects.requireNonNull(shape, "shape");
        lock.lock();
        try {
            A o = activations(out, "out");
            A qa = activations(q, "q");
            K c = kvCache(cache);
            OpChecks.attention(o, qa, c, shape, startPos, nTokens);
            runAttention(o, qa, c, shape, startPos, nTokens);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void swiglu(Activations gate, Activations up, int nTokens) {
        elementwise(Op.SWIGLU, gate, up, nTokens, "swiglu");
    }

    @Override
    public final void add(Activations acc, Activations other, int nTokens) {
        elementwise(Op.ADD, acc, other, nTokens, "add");
    }

    private void elementwise(Op op, Activations target, Activations other, int nTokens, String name) {
        lock.lock();
        try {
            A a = activations(target, "target");
            A b = activations(other, "other");
            OpChecks.elementwise(a, b, nTokens, name);
            runElementwise(op, a, b, nTokens);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public final void copyRows(Activations dst, int dstRow, Activations src, int srcRow, int nRows) {
        lock.lock();
        try {
            A d = activations(dst, "dst");
            A s = activations(src, "src");
            OpChecks.copyRows(d, dstRow, s, srcRow, nRows);
            runCopyRows(d, dstRow, s, srcRow, nRows);
        } finally {
            lock.unlock();
        }
    }

    /** Closes once: {@link #onClose} runs under the lock the first time; later calls do nothing. */
    @Override
    public final void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            onClose();
        } finally {
            lock.unlock();
        }
    }

    // ---- what a backend implements (each called under the lock, handles checked) --------------------

    protected abstract void runWrite(A dst, float[] src, int nRows);

    protected abstract void runRead(A src, float[] dst, int nRows);

    protected abstract void runReadKv(K src, int rows, MemorySegment keys, MemorySegment values);

    protected abstract void runWriteKv(K dst, int rows, MemorySegment keys, MemorySegment values);

    protected abstract void runRmsNorm(A out, A in, W gamma, int nTokens, float eps);

    /** Called only for a weight type {@link #supports} {@link Op#MATMUL}. */
    protected abstract void runMatmul(A out, A in, W w, int nTokens);

    /**
     * {@link Backend#matmuls}, handles checked (distinct outputs, each fitting its weight). The default
     * runs {@link #runMatmul} for each.
     */
    protected void runMatmuls(List<A> outs, A in, List<W> weights, int nTokens) {
        for (int k = 0; k < outs.size(); k++) {
            runMatmul(outs.get(k), in, weights.get(k), nTokens);
        }
    }

    /** {@link Backend#rmsNormMatmuls}, handles checked. The default writes normed, then runs the matmuls. */
    protected void runRmsNormMatmuls(A normed, A x, W gamma, float eps, List<A> outs, List<W> weights, int nTokens) {
        runRmsNorm(normed, x, gamma, nTokens, eps);
        runMatmuls(outs, normed, weights, nTokens);
    }

    /** {@link Backend#swigluMatmul}, handles checked. The default runs the SwiGLU into gate, then the matmul. */
    protected void runSwigluMatmul(A out, A gate, A up, W w, int nTokens) {
        runElementwise(Op.SWIGLU, gate, up, nTokens);
        runMatmul(out, gate, w, nTokens);
    }

    protected abstract void runRope(A x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec);

    /** {@link Backend#ropeQk}, handles checked. The default runs {@link #runRope} on q, then on k. */
    protected void runRopeQk(A q, A k, int nTokens, AttentionShape attention, int startPos, RopeSpec spec) {
        runRope(q, nTokens, attention.headCount(), attention.headDim(), startPos, spec);
        runRope(k, nTokens, attention.kvHeadCount(), attention.headDim(), startPos, spec);
    }

    protected abstract void runKvStore(K cache, A k, A v, int startPos, int nTokens);

    protected abstract void runAttention(A out, A q, K cache, AttentionShape shape, int startPos, int nTokens);

    /** {@code a op= b} over {@code nTokens} rows: {@link Op#SWIGLU} or {@link Op#ADD}. */
    protected abstract void runElementwise(Op op, A a, A b, int nTokens);

    protected abstract void runCopyRows(A dst, int dstRow, A src, int srcRow, int nRows);

    /** Frees what the backend holds; called once, under the lock, by {@link #close}. */
    protected abstract void onClose();

    // ---- checks -------------------------------------------------------------------------------------

    /** @throws IllegalStateException once the backend is closed (call under the lock) */
    protected final void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the " + name() + " backend is closed");
        }
    }

    /** Whether {@link #close} ran (read under the lock). */
    protected final boolean isClosed() {
        return closed;
    }

    /** {@code a} as this backend's activations: open, and allocated here. */
    protected final A activations(Activations a, String what) {
        return own(a, activationType, what);
    }

    /** {@code w} as this backend's weight: open, and loaded here. */
    protected final W weight(Weight w, String what) {
        return own(w, weightType, what);
    }

    /** {@code k} as this backend's KV cache: open, and allocated here. */
    protected final K kvCache(KvCache k) {
        return own(k, cacheType, "cache");
    }

    /** Checks on every op's hot path: no message is built unless one is thrown. */
    private <T extends Owned> T own(Object handle, Class<T> type, String what) {
        checkOpen();
        Objects.requireNonNull(handle, what);
        if (!type.isInstance(handle) || type.cast(handle).owner() != this) {
            throw new IllegalArgumentException(what + ": " + handle + " does not belong to the " + name() + " backend");
        }
        T t = type.cast(handle);
        if (t.isClosed()) {
            String described = handle instanceof Weight w ? "weight " + w.name()
                    : handle instanceof KvCache ? "the KV cache" : "the activation buffer";
            throw new IllegalStateException(what + ": " + described + " is closed");
        }
        return t;
    }
}
