package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.backend.ScratchShape;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The backend's side of the {@link DeviceRuntime} seam, with a runtime that needs no device: device
 * out-of-memory errors become {@link BackendMemoryException}s with the device error as cause,
 * closing the backend closes the runtime, kernels are looked up once, batches beyond the grid are
 * refused naming the batch size, concurrent closes count a handle once, and staging memory is
 * reused only after the queue has drained.
 */
class DeviceBackendSeamTest {

    /** A runtime whose allocations succeed up to {@code capacity} bytes, then fail as CUDA would. */
    static final class FakeRuntime implements DeviceRuntime {
        final long capacity;
        long used;
        boolean closed;
        boolean launchOutOfResources;
        int maxGroupsY = Integer.MAX_VALUE;
        final List<String> launched = new ArrayList<>();
        final Map<String, Integer> lookups = new HashMap<>();
        final List<String> queue = new ArrayList<>();   // "upload", "download", "sync" in call order

        FakeRuntime(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public String api() {
            return "fake";
        }

        @Override
        public DeviceInfo device() {
            return new DeviceInfo("fake", 3, "fake device", "tests", 1L << 30, -1);
        }

        @Override
        public DeviceBuffer allocate(long bytes) {
            if (used + bytes > capacity) {
                throw new GpuMemoryError("fake", "FAKE_ERROR_OUT_OF_MEMORY", bytes, "out of memory");
            }
            used += bytes;
            return new DeviceBuffer() {
                boolean gone;

                @Override
                public long byteSize() {
                    return bytes;
                }

                @Override
                public boolean isClosed() {
                    return gone;
                }

                @Override
                public void close() {
                    if (!gone) {
                        gone = true;
                        used -= bytes;
                    }
                }
            };
        }

        @Override
        public void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
            assertTrue(src.isNative(), "the backend hands runtimes native memory only");
            queue.add("upload");
        }

        @Override
        public void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
            queue.add("download");
        }

        @Override
        public Kernel kernel(String name) {
            lookups.merge(name, 1, Integer::sum);
            return () -> name;
        }

        @Override
        public int maxGroupsY() {
            return maxGroupsY;
        }

        @Override
        public void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args) {
            if (launchOutOfResources) {
                throw new GpuMemoryError("fake", "FAKE_OUT_OF_RESOURCES", -1, "no resources for " + kernel.name());
            }
            launched.add(kernel.name());
        }

        @Override
        public void synchronize() {
            queue.add("sync");
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void deviceOutOfMemoryBecomesABackendMemoryException() {
        FakeRuntime rt = new FakeRuntime(1000);
        DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults());
        assertEquals("fake:3", b.name());
        Activations a = b.allocateActivations(10, 10);   // 400 bytes
        BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> b.allocateActivations(10, 20));
        assertEquals("fake:3", e.backend());
        assertEquals(800, e.requestedBytes());
        assertTrue(e.getCause() instanceof GpuMemoryError g && g.status().equals("FAKE_ERROR_OUT_OF_MEMORY"), e.toString());
        assertTrue(e.getMessage().contains("fake:3") && e.getMessage().contains("800 bytes"), e.getMessage());
        assertEquals(400, b.allocatedBytes());

        rt.launchOutOfResources = true;
        BackendMemoryException launch = assertThrows(BackendMemoryException.class, () -> b.add(a, a, 10));
        assertSame(GpuMemoryError.class, launch.getCause().getClass());
        assertTrue(launch.getMessage().contains("spw_add"), launch.getMessage());

        a.close();
        assertEquals(0, b.allocatedBytes());
        assertEquals(0, rt.used);
        b.close();
        assertTrue(rt.closed, "the backend owns and closes its runtime");
    }

    @Test
    void heapDataIsUploadedThroughNativeStaging() {
        FakeRuntime rt = new FakeRuntime(1 << 20);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            Activations a = b.allocateActivations(2, 8);
            b.write(a, new float[16], 2);
            b.add(a, a, 2);
            b.add(a, a, 0);   // an empty batch launches nothing
            assertEquals(List.of("spw_add"), rt.launched);
            a.close();
        }
    }

    /** An F32 weight (rows, cols) of zeros in heap memory. */
    static TensorView tensor(String name, int rows, int cols) {
        return rows == 1 ? new TensorView(name, GgmlType.F32, new long[] {cols}, MemorySegment.ofArray(new float[cols]))
                : new TensorView(name, GgmlType.F32, new long[] {cols, rows}, MemorySegment.ofArray(new float[rows * cols]));
    }

    static final RopeSpec ROPE = new RopeSpec(RopeSpec.Style.INTERLEAVED, 8, 10000f, 1f, null);

    /** Every op of a decode step, run twice: each kernel is asked of the runtime once. */
    @Test
    void kernelsAreLookedUpOncePerBackend() {
        FakeRuntime rt = new FakeRuntime(1 << 20);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            Activations x = b.allocateActivations(2, 32);
            Activations q = b.allocateActivations(2, 32);
            Activations out = b.allocateActivations(2, 32);
            KvCache kv = b.allocateKv(16, 32, GgmlType.F16, GgmlType.Q8_0);
            Weight w = b.loadWeight(tensor("w", 32, 32));
            Weight gamma = b.loadWeight(tensor("gamma", 1, 32));
            for (int pos = 0; pos < 4; pos += 2) {
                b.rmsNorm(out, x, gamma, 2, 1e-5f);
                b.matmul(q, x, w, 2);
                b.rope(q, 2, 1, 32, pos, ROPE);
                b.kvStore(kv, q, x, pos, 2);
                b.attention(out, q, kv, new AttentionShape(1, 1, 32, 0.18f), pos, 2);
                b.swiglu(x, q, 2);
                b.add(x, q, 2);
                b.copyRows(x, 0, q, 1, 1);
            }
            assertEquals(16, rt.launched.size(), "every op launched in both steps (kv_store: K and V in one launch)");
            rt.lookups.forEach((name, n) -> assertEquals(1, n, name + " was looked up " + n + " times"));
            assertTrue(rt.lookups.keySet().containsAll(List.of("spw_rms_norm", "spw_matmul_f32", "spw_rope", "spw_kv_store",
                    "spw_attention_f16_q8_0", "spw_swiglu", "spw_add", "spw_copy_rows")), rt.lookups.toString());
        }
    }

    /**
     * One token over more keys than one split (256) runs the split attention and its combination,
     * when a reservation covers the context; a batch, a short context or no reservation run the
     * one-pass kernel. The partials count as scratch and are freed with the last handle.
     */
    @Test
    void oneTokenOverALongContextRunsTheSplitAttention() {
        FakeRuntime rt = new FakeRuntime(1L << 30);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            AttentionShape shape = new AttentionShape(4, 2, 16, 0.25f);
            Activations q = b.allocateActivations(2, shape.qDim());
            Activations out = b.allocateActivations(2, shape.qDim());
            KvCache kv = b.allocateKv(1024, shape.kvDim(), GgmlType.F32, GgmlType.F16);
            b.attention(out, q, kv, shape, 600, 1);   // no reservation yet
            assertEquals(List.of("spw_attention_f32_f16"), rt.launched);
            long before = b.allocatedBytes();
            b.reserveScratch(new ScratchShape(2, 1024, 8, shape.headCount(), shape.headDim(), shape.qDim(), 1));
            assertEquals(4L * 4 * 4 * (16 + 2), b.scratchBytes() - 8L * 8 * 2, "partials: (4 heads, 4 splits, 16 + 2) F32");
            assertEquals(before + b.scratchBytes(), b.allocatedBytes());
            rt.launched.clear();
            b.attention(out, q, kv, shape, 600, 1);    // 601 keys: 3 splits
            b.attention(out, q, kv, shape, 255, 1);    // 256 keys: one group per head
            b.attention(out, q, kv, shape, 600, 2);    // a batch
            assertEquals(List.of("spw_attention_split_f32_f16", "spw_attention_combine", "spw_attention_f32_f16",
                    "spw_attention_f32_f16"), rt.launched);
            q.close();
            out.close();
            kv.close();
            assertEquals(0, b.allocatedBytes(), "the partials go with the last handle");
        }
    }

    /**
     * Weights of one type and width that read one input go into one launch, three at most; a change
     * of type starts another. The SwiGLU feeding a matmul is one launch, no spw_swiglu; the RMS norm
     * feeding matmuls is one launch, no spw_rms_norm.
     */
    @Test
    void matmulsOfOneTypeAreOneLaunchAndTheNormAndSwigluRideTheMatmul() {
        FakeRuntime rt = new FakeRuntime(1L << 30);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            Activations in = b.allocateActivations(2, 8);
            Activations up = b.allocateActivations(2, 8);
            List<Activations> outs = new ArrayList<>();
            List<Weight> ws = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                outs.add(b.allocateActivations(2, 8));
                ws.add(b.loadWeight(tensor("w" + i, 8, 8)));
            }
            b.matmuls(outs.subList(0, 3), in, ws.subList(0, 3), 1);
            assertEquals(List.of("spw_matvec_f32"), rt.launched, "Q, K, V: one launch");
            rt.launched.clear();
            b.matmuls(outs, in, ws, 2);
            assertEquals(List.of("spw_matmul_f32", "spw_matmul_f32"), rt.launched, "five weights: three, then two");
            rt.launched.clear();
            b.swigluMatmul(outs.get(0), in, up, ws.get(0), 2);
            assertEquals(List.of("spw_matmul_f32"), rt.launched);
            rt.launched.clear();
            Weight gamma = b.loadWeight(new TensorView("g", GgmlType.F32, new long[] {8}, MemorySegment.ofArray(new float[8])));
            b.rmsNormMatmuls(up, in, gamma, 1e-5f, outs.subList(0, 2), ws.subList(0, 2), 1);
            assertEquals(List.of("spw_matvec_f32"), rt.launched, "the norm rides the matmuls: no spw_rms_norm");
            assertThrows(IllegalArgumentException.class, () -> b.rmsNormMatmuls(up, in, gamma, 1e-5f, List.of(in),
                    ws.subList(0, 1), 1), "an output is x");
            rt.launched.clear();
            b.ropeQk(in, up, 1, new AttentionShape(1, 1, 8, 0.5f), 0, ROPE);   // q and k of one head of 8
            assertEquals(List.of("spw_rope"), rt.launched, "q and k: one launch");
            assertThrows(IllegalArgumentException.class, () -> b.matmuls(outs.subList(0, 2), in, ws.subList(0, 3), 1));
            assertThrows(IllegalArgumentException.class, () -> b.matmuls(List.of(outs.get(0), outs.get(0)), in,
                    ws.subList(0, 2), 1), "one output twice");
            assertThrows(IllegalArgumentException.class, () -> b.swigluMatmul(in, in, up, ws.get(0), 1), "out is gate");
        }
    }

    @Test
    void aBatchBeyondTheGridIsRefusedNamingTheBatchSize() {
        FakeRuntime rt = new FakeRuntime(1L << 30);
        rt.maxGroupsY = 65535;
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            int n = 65536;
            Activations q = b.allocateActivations(n, 8);
            Activations out = b.allocateActivations(n, 8);
            KvCache kv = b.allocateKv(n, 8, GgmlType.F32, GgmlType.F32);
            long before = b.allocatedBytes();
            IllegalArgumentException rope = assertThrows(IllegalArgumentException.class, () -> b.rope(q, n, 1, 8, 0, ROPE));
            assertTrue(rope.getMessage().contains("spw_rope") && rope.getMessage().contains("65536 tokens")
                    && rope.getMessage().contains("-b") && rope.getMessage().contains("at most 65535"), rope.getMessage());
            assertEquals(before, b.allocatedBytes(), "refused before the rope table was built");
            IllegalArgumentException store = assertThrows(IllegalArgumentException.class, () -> b.kvStore(kv, q, out, 0, n));
            assertTrue(store.getMessage().contains("spw_kv_store"), store.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> b.attention(out, q, kv, new AttentionShape(1, 1, 8, 0.35f), 0, n));
            assertEquals(List.of(), rt.launched, "nothing was launched");
            b.rope(q, n - 1, 1, 8, 0, ROPE);   // the largest batch that fits
            assertEquals(List.of("spw_rope"), rt.launched);

        }
        // A matmul has one group per 32 tokens (a token tile); one token runs the mat-vec.
        FakeRuntime narrow = new FakeRuntime(1L << 30);
        narrow.maxGroupsY = 100;
        try (DeviceBackend b = new DeviceBackend(narrow, DeviceBackend.Options.defaults())) {
            Activations in = b.allocateActivations(3201, 8);
            Activations o = b.allocateActivations(3201, 8);
            Weight w = b.loadWeight(tensor("w", 8, 8));
            IllegalArgumentException mm = assertThrows(IllegalArgumentException.class, () -> b.matmul(o, in, w, 3201));
            assertTrue(mm.getMessage().contains("spw_matmul_f32") && mm.getMessage().contains("at most 3200"), mm.getMessage());
            b.matmul(o, in, w, 3200);
            b.matmul(o, in, w, 1);
            assertEquals(List.of("spw_matmul_f32", "spw_matvec_f32"), narrow.launched);
        }
    }

    /** Many threads close one handle at once: it is counted down once, so the scratch of the handles left stays. */
    @Test
    void concurrentClosesReleaseAHandleOnce() throws Exception {
        FakeRuntime rt = new FakeRuntime(1 << 20);
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults())) {
            Activations kept = b.allocateActivations(2, 8);
            b.rope(kept, 2, 1, 8, 0, ROPE);   // allocates the rope table, scratch while handles live
            long keptBytes = b.allocatedBytes();
            for (int round = 0; round < 200; round++) {
                Activations a = b.allocateActivations(1, 8);
                CyclicBarrier start = new CyclicBarrier(threads);
                List<Future<?>> closes = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    closes.add(pool.submit(() -> {
                        start.await();
                        a.close();
                        return null;
                    }));
                }
                for (Future<?> f : closes) {
                    f.get();
                }
                assertEquals(1, b.liveHandles(), "round " + round);
                assertEquals(keptBytes, b.allocatedBytes(), "round " + round + ": the rope table is still there");
            }
            kept.close();
            assertEquals(0, b.liveHandles());
            assertEquals(0, b.allocatedBytes(), "the last handle took the scratch with it");
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Uploads are not waited for: the backend drains the queue only before refilling a staging
     * buffer an upload may still read. The RoPE table has its own, so in a batch or a decode step
     * (write, rope, read) the only drain is the read's; staging is host memory, outside the device
     * counter, freed by close.
     */
    @Test
    void stagingIsRefilledOnlyAfterTheQueueDrained() {
        FakeRuntime rt = new FakeRuntime(1 << 20);
        DeviceBackend b = new DeviceBackend(rt, DeviceBackend.Options.defaults());
        Activations x = b.allocateActivations(2, 8);
        long device = b.allocatedBytes();
        b.write(x, new float[16], 2);
        b.rope(x, 2, 1, 8, 0, ROPE);
        b.rope(x, 2, 1, 8, 0, ROPE);                     // the same positions: the table is reused
        b.read(x, new float[16], 2);
        // The read refills the staging the write filled: it drains the queue, as its download would.
        assertEquals(List.of("upload", "upload", "sync", "download"), rt.queue, "a batch: no wait before the read's");
        rt.queue.clear();
        b.write(x, new float[8], 1);
        b.rope(x, 1, 1, 8, 2, ROPE);
        b.read(x, new float[8], 1);
        assertEquals(List.of("upload", "upload", "sync", "download"), rt.queue, "a decode step: the same");
        rt.queue.clear();
        b.write(x, new float[8], 1);
        b.write(x, new float[8], 1);                     // the first write's upload may still read the staging
        assertEquals(List.of("upload", "sync", "upload"), rt.queue);
        assertTrue(b.stagingBytes() > 0);
        assertEquals(device + 8L * 4 * 2, b.allocatedBytes(), "device memory: x and the rope table, no staging");
        x.close();
        b.close();
        assertEquals(0, b.stagingBytes(), "freed with the backend");
    }
}
