package dev.spillway.cpu.bench;

import dev.spillway.cpu.kernel.Dequant;
import dev.spillway.cpu.kernel.MatVec;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * Q4_0 mat-vec over a mapped file against the same bytes as a native segment, and against a plain
 * native view of the mapping (what {@code GgufFile} hands out); with {@code pollute}, the kernel's
 * helpers first see a native segment, as they do in the engine (the K/V caches). Not a test; see
 * fallback-cpu/README.md, "The mapped-weights penalty". Args: mode (mapped|native|plain), pollute
 * (true|false). Writes a ~560 MB temporary file, deleted on exit.
 */
public final class MappedBench {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        boolean pollute = Boolean.parseBoolean(args[1]);
        int rows = 5632, cols = 2048, copies = 24;
        Random r = new Random(1);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian();
        MemorySegment q = Quants.quantize(GgmlType.Q4_0, values);
        long bytes = q.byteSize();
        Path f = Files.createTempFile("spillway-mapped-bench", ".bin");
        f.toFile().deleteOnExit();
        {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                for (int c = 0; c < copies; c++) ch.write(q.asByteBuffer());
            }
        }
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) r.nextGaussian();
        float[] out = new float[rows];
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(f)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (mode.equals("native")) {
                MemorySegment n = arena.allocate(all.byteSize(), 64);
                n.copyFrom(all);
                all = n;
            } else if (mode.equals("plain")) {
                all = MemorySegment.ofAddress(all.address()).reinterpret(all.byteSize(), arena, null).asReadOnly();
            }
            if (pollute) {   // the KV cache's F16 rows: a native segment through the same helpers
                MemorySegment kv = arena.allocate(1 << 20, 64);
                float[] buf = new float[4096];
                for (int i = 0; i < 20000; i++) Dequant.decode(GgmlType.F16, kv, 0, buf, 0, 2048);
                MemorySegment q8 = arena.allocate(34L * 64 * 64, 64);
                float[] o = new float[64];
                for (int i = 0; i < 20000; i++) MatVec.matVec(GgmlType.Q4_0, q8, 18L * 64, 2048, x, 0, o, 0, 0, 32);
            }
            double best = 0;
            for (int round = 0; round < 10; round++) {
                long t0 = System.nanoTime();
                for (int c = 0; c < copies; c++) {
                    MatVec.matVec(GgmlType.Q4_0, all.asSlice(c * bytes, bytes), bytes / rows, cols, x, 0, out, 0, 0, rows);
                }
                if (round >= 3) best = Math.max(best, copies * (double) bytes / ((System.nanoTime() - t0) / 1e9) / 1e9);
            }
            System.out.printf("%s pollute=%b: %.1f GB/s%n", mode, pollute, best);
        }
    }
}
