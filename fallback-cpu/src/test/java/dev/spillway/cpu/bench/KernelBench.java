package dev.spillway.cpu.bench;

import dev.spillway.cpu.CpuBackend;
import dev.spillway.cpu.kernel.Simd;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Micro timing of the CPU backend's matmul (not a test; run by hand):
 * <pre>
 * java --add-modules jdk.incubator.vector -cp engine/target/classes:fallback-cpu/target/classes:fallback-cpu/target/test-classes \
 *      dev.spillway.cpu.bench.KernelBench [threads] [types...]
 * </pre>
 * Mat-vec: GB/s of weight bytes streamed, for a 2048 x 5632 matrix; several copies are cycled so
 * the working set (>= 256 MiB) cannot sit in the last-level cache. Mat-mat: GFLOP/s (2*n*rows*cols)
 * for n = 64 and 128 tokens.
 */
public final class KernelBench {
    private static final int ROWS = Integer.getInteger("bench.rows", 2048), COLS = Integer.getInteger("bench.cols", 5632);

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        List<GgmlType> types = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            types.add(GgmlType.valueOf(args[i]));
        }
        if (types.isEmpty()) {
            types = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
                    GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);
        }
        if (Boolean.getBoolean("bench.dispatch")) {
            dispatch(threads);
            return;
        }
        boolean matVecOnly = Boolean.getBoolean("bench.matvecOnly");
        boolean matMatOnly = Boolean.getBoolean("bench.matmatOnly");
        System.out.printf("threads=%d vectors=%d-bit %s%n", threads, Simd.F.vectorBitSize(), Runtime.version());
        float[] values = new float[ROWS * COLS];
        Random r = new Random(1);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian();
        }
        try (CpuBackend backend = new CpuBackend(new CpuBackend.Options(threads)); Arena arena = Arena.ofShared()) {
            for (GgmlType type : types) {
                MemorySegment heap = Quants.quantize(type, values);
                long bytes = heap.byteSize();
                int copies = (int) Math.max(1, (256L << 20) / bytes + 1);
                List<Weight> weights = new ArrayList<>();
                for (int c = 0; c < copies; c++) {
                    MemorySegment seg = arena.allocate(bytes, 64);
                    MemorySegment.copy(heap, 0, seg, 0, bytes);
                    weights.add(backend.loadWeight(new TensorView("w" + c, type, new long[] {COLS, ROWS}, seg)));
                }
                StringBuilder line = new StringBuilder(String.format("%-5s", type));
                if (!matMatOnly) {
                    double gbs = matVec(backend, weights, bytes);
                    line.append(String.format("  mat-vec %6.1f GB/s (%5.0f us/matrix)", gbs, bytes / gbs / 1e3));
                }
                if (!matVecOnly) {
                    for (int n : new int[] {64, 128}) {
                        line.append(String.format("  mat-mat n=%d %6.1f GFLOP/s", n, matMat(backend, weights.get(0), n)));
                    }
                }
                System.out.println(line);
                weights.forEach(Weight::close);
            }
        }
    }

    private static double matVec(CpuBackend backend, List<Weight> weights, long bytes) {
        try (Activations in = backend.allocateActivations(1, COLS); Activations out = backend.allocateActivations(1, ROWS)) {
            backend.write(in, random(COLS), 1);
            double best = 0;
            for (int round = 0; round < 6; round++) {
                long start = System.nanoTime();
                int calls = 0;
                while (System.nanoTime() - start < 300_000_000L) {
                    for (Weight w : weights) {
                        backend.matmul(out, in, w, 1);
                        calls++;
                    }
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                if (round >= 2) {
                    best = Math.max(best, calls * (double) bytes / seconds / 1e9);
                }
            }
            return best;
        }
    }

    private static double matMat(CpuBackend backend, Weight w, int n) {
        try (Activations in = backend.allocateActivations(n, COLS); Activations out = backend.allocateActivations(n, ROWS)) {
            backend.write(in, random(n * COLS), n);
            double best = 0;
            for (int round = 0; round < 5; round++) {
                long start = System.nanoTime();
                int calls = 0;
                while (System.nanoTime() - start < 400_000_000L) {
                    backend.matmul(out, in, w, n);
                    calls++;
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                if (round >= 1) {
                    best = Math.max(best, calls * 2.0 * n * ROWS * COLS / seconds / 1e9);
                }
            }
            return best;
        }
    }

    /** Round trip of a tiny matmul (64 x 64 F32: two work items), i.e. the pool's dispatch cost. */
    private static void dispatch(int threads) {
        MemorySegment data = Arena.global().allocate(4 * 64 * 64, 64); // native, like a mapped file
        MemorySegment.copy(Quants.quantize(GgmlType.F32, random(64 * 64)), 0, data, 0, data.byteSize());
        try (CpuBackend backend = new CpuBackend(new CpuBackend.Options(threads));
             Weight w = backend.loadWeight(new TensorView("w", GgmlType.F32, new long[] {64, 64}, data));
             Activations in = backend.allocateActivations(1, 64);
             Activations out = backend.allocateActivations(1, 64)) {
            for (int round = 0; round < 5; round++) {
                long start = System.nanoTime();
                int calls = 200_000;
                for (int i = 0; i < calls; i++) {
                    backend.matmul(out, in, w, 1);
                }
                System.out.printf("threads=%d: %.2f us per dispatched op%n", threads, (System.nanoTime() - start) / 1e3 / calls);
            }
        }
    }

    private static float[] random(int n) {
        Random r = new Random(n);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
