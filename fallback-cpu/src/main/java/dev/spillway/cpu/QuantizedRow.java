package dev.spillway.cpu;

import dev.spillway.cpu.kernel.MatVecQ8;
import dev.spillway.cpu.kernel.RowGroups;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.tensor.Quants;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The integer path's activations: one token's row quantized to 8-bit blocks
 * ({@link MatVecQ8#quantize}), widened to shorts, with a scale per block; or, for a batch, every row
 * rounded the same way and turned back into floats ({@link #round}), so that the float mat-mat
 * multiplies exactly the activations the integer mat-vec would (prompt and generation agree to
 * float rounding, as on the exact path). Filled once per matrix product on the calling thread, then
 * read by every worker. Grown on demand, and counted like the backend's other scratch. Not
 * thread-safe: the backend uses it under its op lock.
 */
final class QuantizedRow {
    short[] values = new short[0];   // (cols) the 8-bit values, widened
    float[] scales = new float[0];   // (cols / 32) one per block
    float[] rounded = new float[0];  // (n, cols) a batch's rows, rounded to 8 bits per block and back
    int[] batchPairs = new int[0];     // (n, cols / 2) a batch's rows for the packed mat-mat
    int[] batchSums8 = new int[0];     // (n, cols / 32)
    float[] batchScales = new float[0]; // (n, cols / 32)
    private final AtomicLong allocated;
    private final MemoryAccount memory;

    QuantizedRow(AtomicLong allocated, MemoryAccount memory) {
        this.allocated = allocated;
        this.memory = memory;
    }

    /** Quantizes {@code x[0..cols)}. */
    void quantize(float[] x, int cols) {
        if (values.length < cols) {
            grow(cols);
        }
        MatVecQ8.quantize(x, 0, cols, values, scales);
    }

    /** Rows {@code x[0 .. n*cols)} quantized for the packed mat-mat: {@link #batchPairs}, {@link #batchSums8}, {@link #batchScales}. */
    void quantizeBatch(float[] x, int n, int cols) {
        if (values.length < cols) {
            grow(cols);
        }
        if (batchPairs.length < n * (cols / 2)) {
            growBatch(n, cols);
        }
        RowGroups.quantizeRows(x, n, cols, values, scales, batchPairs, batchSums8, batchScales);
    }

    private void growBatch(int n, int cols) {
        int blocks = n * (cols / Quants.QK);
        long bytes = batchBytes(n, cols) - (4L * batchPairs.length + 8L * batchSums8.length);
        memory.reserve(bytes, "cpu quantized activation rows (" + n + ", " + cols + ")");
        try {
            int[] p = new int[n * (cols / 2)];
            int[] s8 = new int[blocks];
            float[] d = new float[blocks];
            batchPairs = p;
            batchSums8 = s8;
            batchScales = d;
        } catch (OutOfMemoryError e) {
            memory.release(bytes);
            throw new BackendMemoryException("cpu", bytes, allocated.get(), "cpu scratch", "cpu backend: no heap for quantized rows", e);
        }
        allocated.addAndGet(bytes);
    }

    /** Bytes of a batch's arrays for the packed mat-mat: pairs, block sums and scales. */
    static long batchBytes(int n, int cols) {
        return 4L * n * (cols / 2) + 8L * n * (cols / Quants.QK);
    }

    /** Rows {@code x[0 .. n*cols)} rounded to 8-bit blocks and back, into {@link #rounded}. */
    void round(float[] x, int n, int cols) {
        if (values.length < cols) {
            grow(cols);
        }
        if (rounded.length < n * cols) {
            growRounded(n * cols);
        }
        for (int t = 0; t < n; t++) {
            MatVecQ8.quantize(x, t * cols, cols, values, scales);
            for (int c = 0; c < cols; c++) {
                rounded[t * cols + c] = values[c] * scales[c / Quants.QK];
            }
        }
    }

    private void growRounded(int floats) {
        long bytes = 4L * (floats - rounded.length);
        memory.reserve(bytes, "cpu rounded activation rows (" + floats + " floats)");
        try {
            rounded = new float[floats];
        } catch (OutOfMemoryError e) {
            memory.release(bytes);
            throw new BackendMemoryException("cpu", bytes, allocated.get(), "cpu scratch", "cpu backend: no heap for rounded rows", e);
        }
        allocated.addAndGet(bytes);
    }

    private void grow(int cols) {
        long bytes = bytes(cols) - bytes(values.length);
        memory.reserve(bytes, "cpu quantized activation row (" + cols + ")");
        try {
            short[] v = new short[cols];
            float[] d = new float[cols / Quants.QK];
            values = v;
            scales = d;
        } catch (OutOfMemoryError e) {
            memory.release(bytes);
            throw new BackendMemoryException("cpu", bytes, allocated.get(), "cpu scratch", "cpu backend: no heap for a quantized row", e);
        }
        allocated.addAndGet(bytes);
    }

    /** Drops the row (the backend's last handle went). */
    void release() {
        long bytes = bytes(values.length) + 4L * rounded.length + 4L * batchPairs.length + 8L * batchSums8.length;
        if (bytes > 0) {
            allocated.addAndGet(-bytes);
            memory.release(bytes);
            values = new short[0];
            scales = new float[0];
            rounded = new float[0];
            batchPairs = new int[0];
            batchSums8 = new int[0];
            batchScales = new float[0];
        }
    }

    /** Bytes of one row's arrays: values and scales. */
    static long bytes(int cols) {
        return 2L * cols + 4L * (cols / Quants.QK);
    }
}
