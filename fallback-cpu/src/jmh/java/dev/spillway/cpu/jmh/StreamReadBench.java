package dev.spillway.cpu.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The memory-bandwidth ceiling the mat-vec kernels are measured against: a stream read of
 * {@code mib} MiB of native memory (well past the last-level cache), with the widest vector loads
 * and the least work per load (an integer OR, four independent accumulators), once per operation.
 * GB/s = {@code mib * 1.048576 / ms per op}. Run with {@code -t 2} for two cores, each reading its
 * own buffer: {@code ci/jmh StreamRead -t 2}. The generation ceiling of a model is this bandwidth
 * over the weight bytes one token reads.
 */
public class StreamReadBench extends KernelBenchmark {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED;

    @Param({"512"})
    public int mib;

    private Arena arena;
    private MemorySegment buffer;

    @Setup
    public void setup() {
        arena = Arena.ofShared();
        buffer = arena.allocate((long) mib << 20, 4096);
        for (long i = 0; i < buffer.byteSize(); i += 4096) {
            buffer.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);   // fault every page in
        }
        KernelData.report("stream read of " + mib + " MiB", (long) mib << 20);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int read() {
        int step = B.length();
        long end = buffer.byteSize() - buffer.byteSize() % (4L * step);
        IntVector a0 = IntVector.zero(IntVector.SPECIES_PREFERRED), a1 = a0, a2 = a0, a3 = a0;
        for (long i = 0; i < end; i += 4L * step) {
            a0 = a0.or(ByteVector.fromMemorySegment(B, buffer, i, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts());
            a1 = a1.or(ByteVector.fromMemorySegment(B, buffer, i + step, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts());
            a2 = a2.or(ByteVector.fromMemorySegment(B, buffer, i + 2L * step, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts());
            a3 = a3.or(ByteVector.fromMemorySegment(B, buffer, i + 3L * step, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts());
        }
        return a0.or(a1).or(a2).or(a3).reduceLanes(jdk.incubator.vector.VectorOperators.OR);
    }
}
