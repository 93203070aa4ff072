package dev.spillway.cpu.jmh;

import dev.spillway.cpu.kernel.Attention;
import dev.spillway.cpu.kernel.KvRows;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.tensor.GgmlType;
import java.lang.foreign.Arena;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link Attention#attend} for one token of one layer, all KV heads, on one thread, TinyLlama's shape
 * (32 query heads, 4 KV heads of 64) over {@code len} cached positions. One op reads K and V rows
 * [0, len): GB/s = cache bytes per op / ns per op (printed at the start of each trial). Short
 * contexts fit in cache; long ones stream from memory.
 */
public class AttentionBench extends KernelBenchmark {
    /** The cache types the engine offers (-ctk / -ctv). */
    @Param({"F16", "Q8_0", "Q4_0"})
    public GgmlType kvType;
    @Param({"256", "2048"})
    public int len;

    private final AttentionShape shape = new AttentionShape(32, 4, 64, (float) (1 / Math.sqrt(64)));
    private Arena arena;
    private KvRows k;
    private KvRows v;
    private float[] q;
    private float[] out;
    private float[] scores;
    private float[] kBuf;
    private float[] vBuf;

    @Setup
    public void setup() {
        arena = Arena.ofShared();
        int kvDim = shape.kvDim();
        k = new KvRows(kvType, KernelData.nativeQuantized(arena, kvType, KernelData.random(len * kvDim, 3)), kvDim);
        v = new KvRows(kvType, KernelData.nativeQuantized(arena, kvType, KernelData.random(len * kvDim, 4)), kvDim);
        q = KernelData.random(shape.qDim(), 5);
        out = new float[shape.qDim()];
        scores = new float[Attention.scoreFloats(shape, len)];
        kBuf = new float[k.bufferFloats(shape.headDim())];
        vBuf = new float[v.bufferFloats(shape.headDim())];
        KernelData.report("attention " + kvType + " len=" + len + " (K and V bytes)", 2L * len * k.rowBytes());
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] attend() {
        for (int g = 0; g < shape.kvHeadCount(); g++) {
            Attention.attend(out, 0, q, 0, k, v, shape, g, len, scores, kBuf, vBuf);
        }
        return out;
    }
}
