package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.RowGroups;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Inputs for the kernel benchmarks: random activations, and weight matrices in native memory. */
final class KernelData {
    /** Total size of the cycled weight copies: well past any last-level cache, so reads come from DRAM. */
    static final long DRAM_BYTES = 256L << 20;
    /** Largest "in-cache" weight block: fits L2 (1 MiB on Zen 4, 2 MiB on recent Intel) with room for x. */
    static final long CACHE_BYTES = 256L << 10;

    private KernelData() {
    }

    /** Gaussian floats, the same for the same {@code (n, seed)}. */
    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** {@code "ROWSxCOLS"} as {@code {rows, cols}}. */
    static int[] shape(String shape) {
        String[] p = shape.split("x");
        if (p.length != 2) {
            throw new IllegalArgumentException("shape must be ROWSxCOLS, got " + shape);
        }
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
    }

    /** Quantizes {@code values} to {@code type} into a new 64-byte-aligned native segment of {@code arena}. */
    static MemorySegment nativeQuantized(Arena arena, GgmlType type, float[] values) {
        MemorySegment seg = arena.allocate(type.bytesFor(values.length), 64);
        Quants.quantize(type, values, 0, values.length, seg, 0);
        return seg;
    }

    /** Prints what one operation reads, for turning time per operation into GB/s (see fallback-cpu/README.md). */
    static void report(String what, long bytesPerOp) {
        System.out.printf("%n# %s: %d bytes per op (GB/s = kB per op / us per op = %.1f / us)%n", what, bytesPerOp,
                bytesPerOp / 1e3);
    }

    /**
     * A {@code rows x cols} weight matrix of one type in native memory, laid out like a GGUF tensor.
     * {@code dram}: enough copies of the whole matrix to make {@link #DRAM_BYTES}, cycled by {@link #next},
     * so a mat-vec streams its weights from memory. {@code cache}: one block of {@link #passRows} rows
     * (a power of two of at most {@link #CACHE_BYTES}), which a mat-vec reads {@code rows / passRows}
     * times, so the weights stay in L2 and the kernel's compute alone is measured. Either way one
     * operation covers {@code rows} rows, i.e. {@link #bytes} weight bytes. {@code single}: the one
     * matrix (for mat-mat, which is compute bound).
     */
    static final class Matrices implements AutoCloseable {
        final GgmlType type;
        final int rows;
        final int cols;
        final long rowBytes;
        /** Rows per pass: {@code rows} from DRAM, fewer (a divisor of rows) in cache. */
        final int passRows;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment[] copies;
        private int next;

        Matrices(GgmlType type, String shape, String residency) {
            int[] rc = shape(shape);
            this.type = type;
            this.rows = rc[0];
            this.cols = rc[1];
            this.rowBytes = type.bytesFor(cols);
            switch (residency) {
                case "dram" -> {
                    MemorySegment first = nativeQuantized(arena, type, random(rows * cols, 1));
                    int n = (int) Math.max(1, (DRAM_BYTES + first.byteSize() - 1) / first.byteSize());
                    copies = new MemorySegment[n];
                    copies[0] = first;
                    for (int c = 1; c < n; c++) {
                        copies[c] = arena.allocate(first.byteSize(), 64).copyFrom(first);
                    }
                    passRows = rows;
                }
                case "cache" -> {
                    int p = 1;
                    while (rows % (2 * p) == 0 && 2 * p * rowBytes <= CACHE_BYTES) {
                        p *= 2;
                    }
                    passRows = p;
                    copies = new MemorySegment[] {nativeQuantized(arena, type, random(p * cols, 1))};
                }
                case "single" -> {
                    copies = new MemorySegment[] {nativeQuantized(arena, type, random(rows * cols, 1))};
                    passRows = rows;
                }
                default -> throw new IllegalArgumentException("residency must be dram, cache or single, got " + residency);
            }
        }

        /** Replaces every copy (or block) with its {@link RowGroups} form; the types {@link RowGroups#packable} takes. */
        void pack() {
            if (!RowGroups.packable(type, passRows, cols)) {
                throw new IllegalStateException("no row-group packing for " + describe());
            }
            for (int c = 0; c < copies.length; c++) {
                MemorySegment packed = arena.allocate(RowGroups.bytes(type, passRows, cols), 64);   // K-quants: a little more than the file
                RowGroups.pack(type, copies[c], 0, cols, packed, 0, passRows / RowGroups.G);
                copies[c] = packed;
            }
        }

        /** Weight bytes one operation covers: the whole matrix. */
        long bytes() {
            return rows * rowBytes;
        }

        /** The next matrix (or in-cache block) to read. */
        MemorySegment next() {
            MemorySegment w = copies[next];
            next = next + 1 == copies.length ? 0 : next + 1;
            return w;
        }

        String describe() {
            return type + " " + rows + "x" + cols + (passRows == rows
                    ? ", " + copies.length + (copies.length == 1 ? " copy" : " copies cycled")
                    : ", one " + passRows + "-row block read " + rows / passRows + " times");
        }

        @Override
        public void close() {
            arena.close();
        }
    }
}
