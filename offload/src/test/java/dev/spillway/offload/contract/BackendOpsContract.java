package dev.spillway.offload.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.Op;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every op of a device backend against the CPU backend on the same inputs, in every type the op
 * takes: the contract each device backend's test runs ({@code DeviceOpsTest} for the shared-kernel
 * backend on OpenCL, {@code TornadoOpsTest} for TornadoVM's). Shapes exercise remainders: columns that
 * are no multiple of a work-group, token counts of 1 (the mat-vec) and past the matmul's token tile
 * of 32, head sizes 8 (KV heads starting inside a quantization block) and 64, grouped-query attention,
 * more keys than one attention tile (64), and startPos &gt; 0. Tolerances are stated per op below.
 *
 * <p>The fixture ({@link BackendFixture}): one device backend and one CPU backend per class.
 */
public abstract class BackendOpsContract extends BackendFixture {
    /** Weight types of MATMUL that device backends cover (the same as the CPU backend's). */
    public static final List<GgmlType> MATMUL_TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);
    /** KV cache types of KV_STORE and ATTENTION. */
    public static final List<GgmlType> KV_TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0);

    /** What the device backend's name starts with ({@code opencl:}, {@code tornado:}). */
    protected abstract String namePrefix();

    /** n values drawn from N(0, sigma). */
    public static float[] gaussian(Random r, int n, float sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * sigma;
        }
        return a;
    }

    /** The same activation matrix on both backends. */
    protected record Pair(Activations cpu, Activations dev) {
    }

    protected Pair activations(int rows, int cols, float[] data) {
        Pair p = new Pair(own(cpu.allocateActivations(rows, cols)), own(device.allocateActivations(rows, cols)));
        if (data != null) {
            cpu.write(p.cpu, data, rows);
            device.write(p.dev, data, rows);
        }
        return p;
    }

    protected static float[] read(Backend b, Activations a, int rows) {
        float[] out = new float[rows * a.cols()];
        b.read(a, out, rows);
        return out;
    }

    /** Asserts |dev - cpu| &lt;= bound(i) for the first {@code rows} rows. */
    protected void assertClose(Pair p, int rows, String what, java.util.function.IntToDoubleFunction bound) {
        float[] c = read(cpu, p.cpu, rows);
        float[] d = read(device, p.dev, rows);
        for (int i = 0; i < c.length; i++) {
            double diff = Math.abs(c[i] - d[i]);
            if (!(diff <= bound.applyAsDouble(i))) {
                throw new AssertionError(what + ": element " + i + " (row " + i / p.cpu.cols() + ") is " + d[i]
                        + " on the device, " + c[i] + " on the cpu; allowed " + bound.applyAsDouble(i));
            }
        }
    }

    protected void assertClose(Pair p, int rows, String what, double absolute) {
        assertClose(p, rows, what, i -> absolute);
    }

    // ---- matmul -----------------------------------------------------------------------------------

    static Stream<Arguments> matmulCases() {
        List<Arguments> cases = new ArrayList<>();
        for (GgmlType t : MATMUL_TYPES) {
            // float types: 100 columns is no multiple of a 32-column step; block types need whole blocks
            int cols = t.blockElements() == 1 ? 100 : (t.blockElements() == 32 ? 96 : 512);
            // one token runs the mat-vec, more the tiled matmul: 37 rows are under one row tile (64) and
            // more than the mat-vec group's 8 rows; 33 tokens pass one token tile (32)
            for (int n : new int[] {1, 11, 33}) {
                cases.add(Arguments.of(t, 37, cols, n));
            }
            // more columns than the mat-vec stages at once (1024), and rows past one tile
            int wide = t.blockElements() == 1 ? 1100 : (t.blockElements() == 32 ? 1056 : 1280);
            for (int n : new int[] {1, 2}) {
                cases.add(Arguments.of(t, 70, wide, n));
            }
        }
        return cases.stream();
    }

    /**
     * Tolerance: |dev - cpu| &lt;= 1e-5 * sum_c |w[r][c] * x[t][c]| + 1e-6. Both sides decode the same
     * blocks exactly; only the float summation order differs.
     */
    @ParameterizedTest(name = "{0} ({1}, {2}) x {3} tokens")
    @MethodSource("matmulCases")
    void matmulMatchesTheCpu(GgmlType type, int rows, int cols, int n) {
        Random r = new Random(31L * type.id() + n);
        float[] wf = gaussian(r, rows * cols, 0.5f);
        TensorView w = new TensorView("w", type, new long[] {cols, rows}, Quants.quantize(type, wf));
        float[] decoded = Quants.dequantize(type, w.data(), rows * cols);
        float[] x = gaussian(r, n * cols, 1f);
        Weight wc = own(cpu.loadWeight(w));
        Weight wd = own(device.loadWeight(w));
        assertEquals(w.data().byteSize(), wd.allocatedBytes(), "uploaded in its block format, no widening");
        Pair in = activations(n, cols, x);
        Pair out = activations(n, rows, null);
        cpu.matmul(out.cpu, in.cpu, wc, n);
        device.matmul(out.dev, in.dev, wd, n);
        assertClose(out, n, type + " matmul", i -> {
            int t = i / rows, row = i % rows;
            double abs = 0;
            for (int c = 0; c < cols; c++) {
                abs += Math.abs((double) decoded[row * cols + c] * x[t * cols + c]);
            }
            return 1e-5 * abs + 1e-6;
        });
    }

    /** A weight on both backends, with its decoded values (row-major, rows x cols). */
    private record Loaded(Weight cpu, Weight dev, float[] decoded) {
    }

    private Loaded load(Random r, GgmlType type, int rows, int cols) {
        TensorView w = new TensorView("w", type, new long[] {cols, rows}, Quants.quantize(type, gaussian(r, rows * cols, 0.5f)));
        return new Loaded(own(cpu.loadWeight(w)), own(device.loadWeight(w)), Quants.dequantize(type, w.data(), rows * cols));
    }

    /** The matmul tolerance above for output (t, row) of x (n, cols) times the decoded weight. */
    private static double matmulBound(float[] decoded, float[] x, int cols, int t, int row) {
        double abs = 0;
        for (int c = 0; c < cols; c++) {
            abs += Math.abs((double) decoded[row * cols + c] * x[t * cols + c]);
        }
        return 1e-5 * abs + 1e-6;
    }

    /**
     * Weights that read one input in one op: three of one type (Q, K, V: one launch), then four whose
     * types change (launched in runs of one type, three at most). Each output within the matmul
     * tolerance of the CPU's one-by-one products, for one token (the mat-vec) and 33 (the tiled matmul).
     */
    @ParameterizedTest(name = "{0} tokens")
    @ValueSource(ints = {1, 33})
    void matmulsMatchTheCpu(int n) {
        Random r = new Random(n);
        int cols = 256;
        List<List<Object[]>> sets = List.of(
                List.of(new Object[] {GgmlType.Q8_0, 40}, new Object[] {GgmlType.Q8_0, 9}, new Object[] {GgmlType.Q8_0, 9}),
                List.of(new Object[] {GgmlType.Q4_0, 20}, new Object[] {GgmlType.Q4_0, 70}, new Object[] {GgmlType.F16, 13},
                        new Object[] {GgmlType.Q4_K, 8}));
        float[] x = gaussian(r, n * cols, 1f);
        Pair in = activations(n, cols, x);
        for (List<Object[]> set : sets) {
            List<Loaded> ws = new ArrayList<>();
            List<Pair> outs = new ArrayList<>();
            for (Object[] spec : set) {
                ws.add(load(r, (GgmlType) spec[0], (Integer) spec[1], cols));
                outs.add(activations(n, (Integer) spec[1], null));
            }
            cpu.matmuls(outs.stream().map(Pair::cpu).toList(), in.cpu, ws.stream().map(Loaded::cpu).toList(), n);
            device.matmuls(outs.stream().map(Pair::dev).toList(), in.dev, ws.stream().map(Loaded::dev).toList(), n);
            for (int k = 0; k < set.size(); k++) {
                int rows = (Integer) set.get(k)[1];
                float[] decoded = ws.get(k).decoded();
                assertClose(outs.get(k), n, "matmuls output " + k + " (" + set.get(k)[0] + ")",
                        i -> matmulBound(decoded, x, cols, i / rows, i % rows));
            }
        }
    }

    /**
     * The RMS norm feeding the matmuls that read it (Q, K, V: one launch that normalizes as it stages
     * its input) against the CPU's rmsNorm then matmuls: the matmul tolerance over the normalized
     * input, 1.1 times for the norm's own rounding.
     */
    @ParameterizedTest(name = "{0} tokens")
    @ValueSource(ints = {1, 33})
    void rmsNormMatmulsMatchTheCpu(int n) {
        Random r = new Random(200 + n);
        int cols = 1088;   // 34 blocks: past one staged tile of 1024
        float[] x = gaussian(r, n * cols, 3f);
        float[] g = gaussian(r, cols, 1f);
        float[] normed = new float[x.length];
        for (int t = 0; t < n; t++) {
            double ss = 0;
            for (int c = 0; c < cols; c++) {
                ss += (double) x[t * cols + c] * x[t * cols + c];
            }
            double scale = 1 / Math.sqrt(ss / cols + 1e-5);
            for (int c = 0; c < cols; c++) {
                normed[t * cols + c] = (float) (x[t * cols + c] * scale * g[c]);
            }
        }
        TensorView gamma = new TensorView("gamma", GgmlType.F32, new long[] {cols}, Quants.quantize(GgmlType.F32, g));
        Weight gc = own(cpu.loadWeight(gamma));
        Weight gd = own(device.loadWeight(gamma));
        List<Loaded> ws = List.of(load(r, GgmlType.Q8_0, 40, cols), load(r, GgmlType.Q8_0, 9, cols), load(r, GgmlType.Q8_0, 9, cols));
        Pair in = activations(n, cols, x);
        Pair scratch = activations(n, cols, null);
        List<Pair> outs = List.of(activations(n, 40, null), activations(n, 9, null), activations(n, 9, null));
        cpu.rmsNormMatmuls(scratch.cpu, in.cpu, gc, 1e-5f, outs.stream().map(Pair::cpu).toList(),
                ws.stream().map(Loaded::cpu).toList(), n);
        device.rmsNormMatmuls(scratch.dev, in.dev, gd, 1e-5f, outs.stream().map(Pair::dev).toList(),
                ws.stream().map(Loaded::dev).toList(), n);
        for (int k = 0; k < 3; k++) {
            int rows = outs.get(k).cpu.cols();
            float[] decoded = ws.get(k).decoded();
            assertClose(outs.get(k), n, "rmsNormMatmuls output " + k, i -> 1.1 * matmulBound(decoded, normed, cols, i / rows, i % rows));
        }
    }

    /**
     * The down projection reading silu(gate) * up as it stages its input, against the CPU's swiglu then
     * matmul: the matmul tolerance over the gated input, plus 1e-6 relative for exp's last bits.
     */
    @ParameterizedTest(name = "{0} tokens")
    @ValueSource(ints = {1, 33})
    void swigluMatmulMatchesTheCpu(int n) {
        Random r = new Random(100 + n);
        int cols = 1056, rows = 37;
        float[] g = gaussian(r, n * cols, 2f);
        float[] u = gaussian(r, n * cols, 1f);
        float[] gated = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            gated[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
        }
        Loaded w = load(r, GgmlType.Q8_0, rows, cols);   // 33 blocks: past one staged tile of 1024
        Pair gate = activations(n, cols, g);
        Pair up = activations(n, cols, u);
        Pair out = activations(n, rows, null);
        cpu.swigluMatmul(out.cpu, gate.cpu, up.cpu, w.cpu(), n);
        device.swigluMatmul(out.dev, gate.dev, up.dev, w.dev(), n);
        assertClose(out, n, "swigluMatmul", i -> 1.1 * matmulBound(w.decoded(), gated, cols, i / rows, i % rows));
        float[] upAfter = read(device, up.dev, n);
        assertEquals(java.util.Arrays.toString(u), java.util.Arrays.toString(upAfter), "up is read, not written");
    }

    // ---- row ops ----------------------------------------------------------------------------------

    /** Tolerance: 1e-5 relative to the element, plus 1e-6. */
    @ParameterizedTest(name = "dim {0}, {1} tokens")
    @CsvSource({"100, 1", "256, 3", "300, 9"})
    void rmsNormMatchesTheCpu(int dim, int n) {
        Random r = new Random(dim);
        float[] gamma = gaussian(r, dim, 1f);
        TensorView g = new TensorView("gamma", GgmlType.F32, new long[] {dim}, Quants.quantize(GgmlType.F32, gamma));
        Pair in = activations(n, dim, gaussian(r, n * dim, 2f));
        Pair out = activations(n, dim, null);
        Weight gc = own(cpu.loadWeight(g));
        Weight gd = own(device.loadWeight(g));
        cpu.rmsNorm(out.cpu, in.cpu, gc, n, 1e-5f);
        device.rmsNorm(out.dev, in.dev, gd, n, 1e-5f);
        float[] expected = read(cpu, out.cpu, n);
        assertClose(out, n, "rms_norm", i -> 1e-5 * Math.abs(expected[i]) + 1e-6);
        // in place, as the output head's buffers could be used
        device.rmsNorm(in.dev, in.dev, gd, n, 1e-5f);
        cpu.rmsNorm(in.cpu, in.cpu, gc, n, 1e-5f);
        assertClose(in, n, "rms_norm in place", i -> 1e-5 * Math.abs(expected[i]) + 1e-6);
    }

    static Stream<Arguments> ropeCases() {
        List<Arguments> cases = new ArrayList<>();
        for (RopeSpec.Style style : RopeSpec.Style.values()) {
            for (int headDim : new int[] {8, 64}) {
                for (boolean factors : new boolean[] {false, true}) {
                    cases.add(Arguments.of(style, headDim, headDim, factors, 0, 1));
                    cases.add(Arguments.of(style, headDim, headDim, factors, 37, 5));
                }
                cases.add(Arguments.of(style, headDim, headDim / 2, false, 1000, 3)); // partial rotation
            }
        }
        return cases.stream();
    }

    /** Tolerance: 1e-5 absolute on N(0,1) inputs; both sides use the same double-precision angles. */
    @ParameterizedTest(name = "{0} head_dim {1} rot {2} factors {3} start {4} n {5}")
    @MethodSource("ropeCases")
    void ropeMatchesTheCpu(RopeSpec.Style style, int headDim, int rot, boolean factors, int startPos, int n) {
        Random r = new Random(headDim * 7L + startPos);
        float[] ff = null;
        if (factors) {
            ff = new float[rot / 2];
            for (int i = 0; i < ff.length; i++) {
                ff[i] = 1f + i * 0.5f;
            }
        }
        RopeSpec spec = new RopeSpec(style, rot, 10000f, 0.5f, ff);
        int heads = 3;
        Pair x = activations(n, heads * headDim, gaussian(r, n * heads * headDim, 1f));
        cpu.rope(x.cpu, n, heads, headDim, startPos, spec);
        device.rope(x.dev, n, heads, headDim, startPos, spec);
        assertClose(x, n, "rope", 1e-5);
        // the cached angle table must follow a change of positions
        cpu.rope(x.cpu, n, heads, headDim, startPos + 1, spec);
        device.rope(x.dev, n, heads, headDim, startPos + 1, spec);
        assertClose(x, n, "rope at the next positions", 2e-5);
    }

    /** q (8 heads) and k (2 heads) in one op, both styles, a partial rotation: each as the CPU's two ropes, 1e-5. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(RopeSpec.Style.class)
    void ropeQkMatchesTheCpu(RopeSpec.Style style) {
        Random r = new Random(style.ordinal());
        RopeSpec spec = new RopeSpec(style, 48, 10000f, 1f, null);
        AttentionShape shape = new AttentionShape(8, 2, 64, 0.125f);
        int n = 5;
        Pair q = activations(n, shape.qDim(), gaussian(r, n * shape.qDim(), 1f));
        Pair k = activations(n, shape.kvDim(), gaussian(r, n * shape.kvDim(), 1f));
        cpu.ropeQk(q.cpu, k.cpu, n, shape, 7, spec);
        device.ropeQk(q.dev, k.dev, n, shape, 7, spec);
        assertClose(q, n, "ropeQk q", 1e-5);
        assertClose(k, n, "ropeQk k", 1e-5);
    }

    /** Tolerance: 1e-6 relative plus 1e-7 (exp differs in the last bits). */
    @Test
    void swigluAddAndCopyRowsMatchTheCpu() {
        Random r = new Random(5);
        int n = 3, dim = 300;
        Pair gate = activations(n + 2, dim, gaussian(r, (n + 2) * dim, 3f));
        Pair up = activations(n + 2, dim, gaussian(r, (n + 2) * dim, 1f));
        cpu.swiglu(gate.cpu, up.cpu, n);
        device.swiglu(gate.dev, up.dev, n);
        float[] expected = read(cpu, gate.cpu, n + 2);
        assertClose(gate, n + 2, "swiglu (rows past n untouched)", i -> 1e-6 * Math.abs(expected[i]) + 1e-7);
        cpu.add(up.cpu, gate.cpu, n);
        device.add(up.dev, gate.dev, n);
        assertClose(up, n + 2, "add", i -> 1e-6 * Math.abs(expected[i]) + 1e-6);
        Pair src = activations(n + 2, dim, gaussian(r, (n + 2) * dim, 1f));
        Pair dst = activations(4, dim, new float[4 * dim]);
        cpu.copyRows(dst.cpu, 1, src.cpu, 2, 3);
        device.copyRows(dst.dev, 1, src.dev, 2, 3);
        assertClose(dst, 4, "copyRows (exact)", 0);
    }

    // ---- KV cache and attention -----------------------------------------------------------------------

    static Stream<Arguments> attentionCases() {
        List<Arguments> cases = new ArrayList<>();
        for (GgmlType t : KV_TYPES) {
            cases.add(Arguments.of(t, t, 4, 4, 8));    // head_dim 8: heads 1..3 start inside a 32-block
            cases.add(Arguments.of(t, t, 8, 2, 64));   // grouped-query attention, 4 query heads per KV head
        }
        cases.add(Arguments.of(GgmlType.Q8_0, GgmlType.F16, 4, 2, 64));   // K and V of different types
        cases.add(Arguments.of(GgmlType.BF16, GgmlType.Q4_0, 4, 4, 8));
        return cases.stream();
    }

    /**
     * A prompt of 70 tokens (more keys than one 64-key tile) in batches of 66 and 4, then two single
     * tokens: kvStore then attention at startPos 0, 66, 70, 71, each compared with the CPU.
     * Tolerance: 2e-5 absolute for F32, 1e-4 for F16/BF16 and 1e-3 for Q8_0/Q4_0 on outputs of
     * magnitude ~1 (both sides quantize with the same rules; only the softmax summation order differs).
     */
    @ParameterizedTest(name = "K {0} V {1}, {2} heads / {3} kv heads of {4}")
    @MethodSource("attentionCases")
    void kvStoreAndAttentionMatchTheCpu(GgmlType kType, GgmlType vType, int heads, int kvHeads, int headDim) {
        Random r = new Random(heads * 100L + headDim + kType.id() * 7L + vType.id());
        AttentionShape shape = new AttentionShape(heads, kvHeads, headDim, (float) (1 / Math.sqrt(headDim)));
        int nCtx = 80, batch = 66;
        KvCache cc = own(cpu.allocateKv(nCtx, shape.kvDim(), kType, vType));
        KvCache cd = own(device.allocateKv(nCtx, shape.kvDim(), kType, vType));
        assertEquals(KvCache.bytesFor(nCtx, shape.kvDim(), kType, vType), cd.allocatedBytes());
        Pair q = activations(batch, shape.qDim(), null);
        Pair k = activations(batch, shape.kvDim(), null);
        Pair v = activations(batch, shape.kvDim(), null);
        Pair out = activations(batch, shape.qDim(), null);
        double tol = switch (GgmlType.valueOf(worse(kType, vType))) {
            case F32 -> 2e-5;
            case F16, BF16 -> 1e-4;
            default -> 1e-3;
        };
        int pos = 0;
        for (int n : new int[] {66, 4, 1, 1}) {
            for (Pair p : new Pair[] {q, k, v}) {
                float[] data = gaussian(r, n * p.cpu.cols(), 1.5f);
                cpu.write(p.cpu, data, n);
                device.write(p.dev, data, n);
            }
            cpu.kvStore(cc, k.cpu, v.cpu, pos, n);
            device.kvStore(cd, k.dev, v.dev, pos, n);
            cpu.attention(out.cpu, q.cpu, cc, shape, pos, n);
            device.attention(out.dev, q.dev, cd, shape, pos, n);
            assertClose(out, n, "attention K " + kType + " V " + vType + " at startPos " + pos + ", " + n + " tokens", tol);
            pos += n;
        }
    }

    /** The name of the coarser of two cache types (for the tolerance). */
    protected static String worse(GgmlType a, GgmlType b) {
        List<GgmlType> order = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0);
        return order.get(Math.max(order.indexOf(a), order.indexOf(b))).name();
    }

    // ---- contract ---------------------------------------------------------------------------------

    @Test
    void supportsWhatTheCpuSupports() {
        for (GgmlType t : GgmlType.values()) {
            for (Op op : Op.values()) {
                assertEquals(cpu.supports(op, t), device.supports(op, t), op + " " + t);
            }
        }
        assertTrue(device.name().startsWith(namePrefix()), device.name());
    }

    @ParameterizedTest
    @EnumSource(names = {"Q5_0", "Q2_K", "IQ4_NL", "I8"})
    void refusesWeightsItCannotMultiply(GgmlType type) {
        int cols = type.blockElements() * 2;
        TensorView w = new TensorView("odd", type, new long[] {cols, 2},
                java.lang.foreign.MemorySegment.ofArray(new byte[(int) type.bytesFor(2L * cols)]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> device.loadWeight(w));
        assertTrue(e.getMessage().contains("odd") && e.getMessage().contains(type.name()), e.getMessage());
        assertEquals(0, device.allocatedBytes());
    }

    @Test
    void rejectsForeignAndClosedHandles() {
        Pair a = activations(2, 16, new float[32]);
        Activations foreign = a.cpu;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> device.add(a.dev, foreign, 1));
        assertTrue(e.getMessage().contains("does not belong"), e.getMessage());
        Activations closed = device.allocateActivations(2, 16);
        closed.close();
        closed.close(); // a second close does nothing
        assertThrows(IllegalStateException.class, () -> device.add(a.dev, closed, 1));
    }
}
