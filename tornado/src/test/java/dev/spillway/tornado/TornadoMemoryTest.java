package dev.spillway.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.BackendMemoryException;
import org.junit.jupiter.api.Test;

/**
 * TornadoVM's own out-of-memory (here its plan's memory limit, set below what Spillway's budget allows,
 * so that TornadoVM refuses and not Spillway) reaches the seam as a {@link BackendMemoryException}
 * naming the backend, which the OOM fallback loader and live spill catch; nothing of the failed plan stays.
 */
class TornadoMemoryTest {
    @Test
    void tornadoVmsOwnOutOfMemoryBecomesABackendMemoryException() {
        try (TornadoBackend b = TornadoTesting.backend()) {
            b.tornadoMemoryLimit = "1MB";
            Activations a = b.allocateActivations(1024, 1024); // 4 MiB, within Spillway's budget
            BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> b.write(a, new float[1024], 1));
            assertTrue(e.getMessage().contains("TornadoVM ran out of device memory"), e.getMessage());
            assertEquals(b.name(), e.backend());
            assertEquals(0, b.scratchBytes(), "the failed plan's scratch is released");
            b.tornadoMemoryLimit = null;
            float[] row = new float[1024];
            for (int i = 0; i < row.length; i++) {
                row[i] = i * 0.5f - 7;
            }
            b.write(a, row, 1);   // the next op seals again, without the limit
            float[] back = new float[1024];
            b.read(a, back, 1);
            assertEquals(java.util.Arrays.toString(row), java.util.Arrays.toString(back));
            a.close();
            assertEquals(0, b.allocatedBytes(), "everything freed");
        }
    }

    /**
     * A heap that outgrows its array seals a new plan: the caches' rows and the activations written
     * before it are on the device afterwards, byte for byte, even after a first try at the new plan
     * ran out of memory.
     */
    @Test
    void aLargerContextSealsAgainAndKeepsWhatWasStored() {
        try (TornadoBackend b = TornadoTesting.backend()) {
            int ctx = 64, kvDim = 64;
            dev.spillway.engine.backend.KvCache cache = b.allocateKv(ctx, kvDim, dev.spillway.engine.tensor.GgmlType.Q8_0,
                    dev.spillway.engine.tensor.GgmlType.F16);
            Activations k = b.allocateActivations(8, kvDim);
            Activations v = b.allocateActivations(8, kvDim);
            java.util.Random r = new java.util.Random(3);
            float[] kr = dev.spillway.offload.contract.BackendOpsContract.gaussian(r, 8 * kvDim, 1f);
            float[] vr = dev.spillway.offload.contract.BackendOpsContract.gaussian(r, 8 * kvDim, 1f);
            b.write(k, kr, 8);
            b.write(v, vr, 8);
            b.kvStore(cache, k, v, 5, 8);
            int generation = b.generation();
            long keyBytes = 13 * dev.spillway.engine.tensor.GgmlType.Q8_0.bytesFor(kvDim);
            long valueBytes = 13 * dev.spillway.engine.tensor.GgmlType.F16.bytesFor(kvDim);
            java.lang.foreign.MemorySegment keys = java.lang.foreign.MemorySegment.ofArray(new byte[(int) keyBytes]);
            java.lang.foreign.MemorySegment values = java.lang.foreign.MemorySegment.ofArray(new byte[(int) valueBytes]);
            b.readKv(cache, 13, keys, values);
            Activations big = b.allocateActivations(512, 512);   // past the state array: a new plan
            b.tornadoMemoryLimit = "1MB";   // that TornadoVM refuses first: nothing stored may be lost
            assertThrows(BackendMemoryException.class, () -> b.write(big, new float[512], 1));
            b.tornadoMemoryLimit = null;
            b.write(big, new float[512], 1);
            assertEquals(generation + 2, b.generation(), "a plan TornadoVM refused, then one that runs");
            java.lang.foreign.MemorySegment keys2 = java.lang.foreign.MemorySegment.ofArray(new byte[(int) keyBytes]);
            java.lang.foreign.MemorySegment values2 = java.lang.foreign.MemorySegment.ofArray(new byte[(int) valueBytes]);
            b.readKv(cache, 13, keys2, values2);
            assertEquals(-1, keys.mismatch(keys2), "K rows kept");
            assertEquals(-1, values.mismatch(values2), "V rows kept");
            float[] back = new float[8 * kvDim];
            b.read(k, back, 8);
            assertEquals(java.util.Arrays.toString(kr), java.util.Arrays.toString(back), "activations kept");
            big.close();
            k.close();
            v.close();
            cache.close();
            assertEquals(0, b.allocatedBytes());
        }
    }

    /** Weights spread over several chunks (a 4 KiB chunk limit here): each chunk's graphs multiply its own. */
    @Test
    void weightsInSeveralChunksMultiplyAsOnTheCpu() {
        dev.spillway.offload.device.DeviceInfo info = TornadoTesting.firstDevice();
        try (TornadoBackend b = new TornadoBackend(TornadoDevices.device(info.index()), info,
                dev.spillway.offload.device.DeviceBackend.Options.defaults(), 4096);
             dev.spillway.cpu.CpuBackend cpu = new dev.spillway.cpu.CpuBackend(new dev.spillway.cpu.CpuBackend.Options(1).withExact(true))) {
            java.util.Random r = new java.util.Random(9);
            int cols = 256, rows = 12;   // Q8_0: 12 x 272 bytes = 3264 per weight, one per chunk
            float[] x = dev.spillway.offload.contract.BackendOpsContract.gaussian(r, cols, 1f);
            Activations in = b.allocateActivations(1, cols);
            Activations inCpu = cpu.allocateActivations(1, cols);
            b.write(in, x, 1);
            cpu.write(inCpu, x, 1);
            java.util.List<AutoCloseable> owned = new java.util.ArrayList<>(java.util.List.of(in, inCpu));
            for (int i = 0; i < 3; i++) {
                dev.spillway.engine.tensor.TensorView w = new dev.spillway.engine.tensor.TensorView("w" + i,
                        dev.spillway.engine.tensor.GgmlType.Q8_0, new long[] {cols, rows}, dev.spillway.engine.tensor.Quants.quantize(
                        dev.spillway.engine.tensor.GgmlType.Q8_0, dev.spillway.offload.contract.BackendOpsContract.gaussian(r, rows * cols, 0.5f)));
                dev.spillway.engine.backend.Weight wd = b.loadWeight(w);
                dev.spillway.engine.backend.Weight wc = cpu.loadWeight(w);
                Activations out = b.allocateActivations(1, rows);
                Activations outCpu = cpu.allocateActivations(1, rows);
                owned.addAll(java.util.List.of(wd, wc, out, outCpu));
                b.matmul(out, in, wd, 1);
                cpu.matmul(outCpu, inCpu, wc, 1);
                float[] got = new float[rows];
                float[] want = new float[rows];
                b.read(out, got, 1);
                cpu.read(outCpu, want, 1);
                for (int j = 0; j < rows; j++) {
                    assertEquals(want[j], got[j], 1e-4 * (1 + Math.abs(want[j])), "weight " + i + " row " + j);
                }
            }
            assertTrue(b.generation() >= 3, "a new chunk is a new plan: " + b.generation());
            for (int i = owned.size() - 1; i >= 0; i--) {
                try {
                    owned.get(i).close();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            assertEquals(0, b.allocatedBytes());
        }
    }
}
