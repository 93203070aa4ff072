package dev.spillway.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The writer quantizes with {@link Quants} for every type. Each case is skipped (aborted, with the
 * reason) while Quants lacks that type and starts running as soon as it implements it: these are
 * the checks to watch after merging the kernels branch.
 */
class GgufQuantizedWriteTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"})
    void writerStoresExactlyWhatQuantsProduces(GgmlType type) throws IOException {
        assumeQuantsImplements(type);
        int cols = Math.max(256, type.blockElements() * 2);
        int rows = 5;
        float[] values = GgufSamples.randomFloats(new Random(type.id()), cols * rows);
        Path file = dir.resolve(type + ".gguf");
        new GgufWriter()
                .addTensor("whole", type, new long[] {cols, rows}, values)
                .addTensor("rows", type, new long[] {cols, rows}, (first, n, dst) ->
                        System.arraycopy(values, (int) first * cols, dst, 0, n * cols))
                .write(file);
        try (GgufFile f = GgufFile.open(file); Arena arena = Arena.ofConfined()) {
            MemorySegment expected = arena.allocate(type.bytesFor(values.length));
            Quants.quantize(type, values, 0, values.length, expected, 0);
            assertEquals(-1, expected.mismatch(f.tensor("whole").data()), "float[] tensor");
            assertEquals(-1, expected.mismatch(f.tensor("rows").data()), "RowFiller tensor");

            // And it decodes to roughly the input (the codecs' own accuracy is tested with them).
            float[] back = new float[values.length];
            Quants.dequantize(type, f.tensor("whole").data(), 0, back, 0, back.length);
            double err = 0;
            double norm = 0;
            for (int i = 0; i < values.length; i++) {
                err += (back[i] - values[i]) * (back[i] - values[i]);
                norm += values[i] * values[i];
            }
            assertTrue(Math.sqrt(err / norm) < 0.2, type + " relative RMS error " + Math.sqrt(err / norm));
        }
    }

    private static void assumeQuantsImplements(GgmlType type) {
        try (Arena arena = Arena.ofConfined()) {
            int n = type.blockElements();
            Quants.quantize(type, new float[n], 0, n, arena.allocate(type.bytesFor(n)), 0);
        } catch (UnsupportedOperationException e) {
            Assumptions.abort("Quants does not implement " + type + " yet (expected with the kernels branch): " + e.getMessage());
        }
    }
}
