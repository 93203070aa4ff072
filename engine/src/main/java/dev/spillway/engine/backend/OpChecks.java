package dev.spillway.engine.backend;

import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Set;

/**
 * The argument checks of the {@link Backend} contract, shared by every backend so that they refuse
 * the same calls with the same messages. Each method throws {@link IllegalArgumentException} naming
 * the op and the offending shape; backends call them after resolving their own handles.
 */
public final class OpChecks {
    private OpChecks() {
    }

    /** {@link Backend#allocateActivations}: 1 .. 2^31-17 elements. */
    public static void activationShape(int rows, int cols) {
        if (rows < 1 || cols < 1 || (long) rows * cols > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("activations of " + rows + " x " + cols + " cannot be allocated (need 1.."
                    + (Integer.MAX_VALUE - 16) + " elements)");
        }
    }

    /** {@link Backend#allocateKv}: positive sizes, supported types, whole blocks per token row. */
    public static void kvCache(String backend, Set<GgmlType> supported, int contextSize, int kvDim, GgmlType keyType,
                               GgmlType valueType) {
        if (contextSize < 1 || kvDim < 1) {
            throw new IllegalArgumentException("kv cache needs contextSize >= 1 and kvDim >= 1, got " + contextSize + ", " + kvDim);
        }
        for (GgmlType t : new GgmlType[] {keyType, valueType}) {
            if (!supported.contains(t)) {
                throw new IllegalArgumentException(backend + " backend cannot hold a KV cache of type " + t + "; supported: "
                        + supported);
            }
            if (kvDim % t.blockElements() != 0) {
                throw new IllegalArgumentException("kvDim " + kvDim + " is not a multiple of " + t + "'s block size "
                        + t.blockElements() + " (the cache quantizes whole token rows)");
            }
        }
    }

    /** {@link Backend#write} / {@link Backend#read}: {@code nRows} fit the buffer and the host array. */
    public static void transfer(Activations a, int nRows, int hostLength, String op) {
        rows(nRows, a, op);
        long need = (long) nRows * a.cols();
        if (hostLength < need) {
            throw new IllegalArgumentException(op + ": " + nRows + " rows of " + a.cols() + " need " + need + " floats, "
                    + (op.equals("write") ? "source" : "destination") + " has " + hostLength);
        }
    }

    /**
     * {@link Backend#readKv} / {@link Backend#writeKv}: {@code rows} inside the cache, each segment
     * large enough for {@code rows} rows of its side, and writable when {@code read} (the op writes into it).
     */
    public static void kvTransfer(KvCache cache, int rows, MemorySegment keys, MemorySegment values, boolean read) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        String op = read ? "readKv" : "writeKv";
        if (rows < 0 || rows > cache.contextSize()) {
            throw new IllegalArgumentException(op + ": " + rows + " rows are outside the context of " + cache.contextSize()
                    + " of " + cache);
        }
        kvSide(keys, rows, cache.keyType().bytesFor(cache.kvDim()), "keys", op, read);
        kvSide(values, rows, cache.valueType().bytesFor(cache.kvDim()), "values", op, read);
    }

    private static void kvSide(MemorySegment host, int rows, long rowBytes, String side, String op, boolean read) {
        long need = rows * rowBytes;
        if (host.byteSize() < need) {
            throw new IllegalArgumentException(op + ": " + rows + " rows of " + rowBytes + " bytes need " + need + " bytes of "
                    + side + ", the segment has " + host.byteSize());
        }
        if (read && host.isReadOnly()) {
            throw new IllegalArgumentException(op + ": the " + side + " segment is read-only");
        }
    }

    /** {@code nTokens} leading rows of {@code a}. */
    public static void rows(int nTokens, Activations a, String op) {
        if (nTokens < 0 || nTokens > a.rows()) {
            throw new IllegalArgumentException(op + ": " + nTokens + " tokens do not fit " + a);
        }
    }

    public static void sameCols(Activations a, Activations b, String op) {
        if (a.cols() != b.cols()) {
            throw new IllegalArgumentException(op + ": column counts differ, " + a.cols() + " and " + b.cols());
        }
    }

    /** Positions {@code startPos .. startPos+nTokens-1} inside {@code 0 .. contextSize-1}. */
    public static void positions(int startPos, int nTokens, int contextSize, String op) {
        if (startPos < 0 || (long) startPos + nTokens > contextSize) {
            throw new IllegalArgumentException(op + ": positions " + startPos + " .. " + ((long) startPos + nTokens - 1)
                    + " are outside the context of " + contextSize);
        }
    }

    /** {@link Backend#rmsNorm}: equal widths, gamma an F32 (1, cols) vector. */
    public static void rmsNorm(Activations out, Activations in, Weight gamma, int nTokens) {
        rows(nTokens, out, "rmsNorm");
        rows(nTokens, in, "rmsNorm");
        sameCols(out, in, "rmsNorm");
        if (gamma.type() != GgmlType.F32 || gamma.rows() != 1 || gamma.cols() != in.cols()) {
            throw new IllegalArgumentException("rmsNorm: gamma must be F32 of (1, " + in.cols() + "), got " + gamma);
        }
    }

    /** {@link Backend#matmul}: distinct buffers, {@code in (n, w.cols)} and {@code out (n, w.rows)}. */
    public static void matmul(Activations out, Activations in, Weight w, int nTokens) {
        if (out == in) {
            throw new IllegalArgumentException("matmul: out and in must be different buffers");
        }
        if (in.cols() != w.cols() || out.cols() != w.rows()) {
            throw new IllegalArgumentException("matmul: in (" + in.rows() + ", " + in.cols() + ") x " + w
                    + "^T does not fit out (" + out.rows() + ", " + out.cols() + ")");
        }
        rows(nTokens, out, "matmul");
        rows(nTokens, in, "matmul");
    }

    /** {@link Backend#matmuls}: one output per weight, at least one. */
    public static void matmulLists(java.util.List<? extends Activations> outs, java.util.List<? extends Weight> weights) {
        if (outs.isEmpty() || outs.size() != weights.size()) {
            throw new IllegalArgumentException("matmuls: " + outs.size() + " outputs for " + weights.size()
                    + " weights (one each, at least one)");
        }
    }

    /** {@link Backend#swigluMatmul}: gate and up as {@link #elementwise}, out a buffer of its own. */
    public static void swigluMatmul(Activations out, Activations gate, Activations up, Weight w, int nTokens) {
        if (out == gate || out == up) {
            throw new IllegalArgumentException("swigluMatmul: out must differ from gate and up");
        }
        elementwise(gate, up, nTokens, "swigluMatmul");
        matmul(out, gate, w, nTokens);
    }

    /** {@link Backend#rope}: heads tile the row, the rotated dims fit a head. */
    public static void rope(Activations x, int nTokens, int headCount, int headDim, int startPos, RopeSpec spec) {
        rows(nTokens, x, "rope");
        if (headCount < 1 || headDim < 1 || (long) headCount * headDim != x.cols()) {
            throw new IllegalArgumentException("rope: " + headCount + " heads of " + headDim + " do not match rows of "
                    + x.cols());
        }
        if (spec.rotatedDims() > headDim) {
            throw new IllegalArgumentException("rope: " + spec.rotatedDims() + " rotated dims exceed head_dim " + headDim);
        }
        positions(startPos, nTokens, Integer.MAX_VALUE, "rope");
    }

    /** {@link Backend#kvStore}: k and v rows as wide as the cache, positions inside it. */
    public static void kvStore(KvCache cache, Activations k, Activations v, int startPos, int nTokens) {
        rows(nTokens, k, "kvStore");
        rows(nTokens, v, "kvStore");
        if (k.cols() != cache.kvDim() || v.cols() != cache.kvDim()) {
            throw new IllegalArgumentException("kvStore: k has " + k.cols() + " and v " + v.cols() + " columns, the cache "
                    + cache.kvDim());
        }
        positions(startPos, nTokens, cache.contextSize(), "kvStore");
    }

    /** {@link Backend#attention}: distinct buffers of qDim columns, a cache of kvDim, positions inside it. */
    public static void attention(Activations out, Activations q, KvCache cache, AttentionShape shape, int startPos,
                                 int nTokens) {
        if (out == q) {
            throw new IllegalArgumentException("attention: out and q must be different buffers");
        }
        rows(nTokens, out, "attention");
        rows(nTokens, q, "attention");
        if (q.cols() != shape.qDim() || out.cols() != shape.qDim() || cache.kvDim() != shape.kvDim()) {
            throw new IllegalArgumentException("attention: " + shape + " needs q and out of " + shape.qDim()
                    + " columns and a cache of kvDim " + shape.kvDim() + "; got q " + q.cols() + ", out " + out.cols()
                    + ", cache " + cache.kvDim());
        }
        positions(startPos, nTokens, cache.contextSize(), "attention");
    }

    /** {@link Backend#swiglu} and {@link Backend#add}: two buffers of equal width. */
    public static void elementwise(Activations a, Activations b, int nTokens, String op) {
        rows(nTokens, a, op);
        rows(nTokens, b, op);
        sameCols(a, b, op);
    }

    /** {@link Backend#copyRows}: equal widths, both row ranges inside their buffers. */
    public static void copyRows(Activations dst, int dstRow, Activations src, int srcRow, int nRows) {
        sameCols(dst, src, "copyRows");
        if (nRows < 0 || dstRow < 0 || srcRow < 0 || (long) dstRow + nRows > dst.rows() || (long) srcRow + nRows > src.rows()) {
            throw new IllegalArgumentException("copyRows: rows " + srcRow + "+" + nRows + " of " + src + " to " + dstRow
                    + " of " + dst + " are out of range");
        }
    }
}
