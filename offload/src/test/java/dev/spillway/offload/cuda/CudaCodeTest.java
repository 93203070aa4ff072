package dev.spillway.offload.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.bindings.cuda.ComputeCapability;
import dev.spillway.offload.device.DeviceCode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Which image the CUDA runtime loads for a device's compute capability. */
class CudaCodeTest {
    static final DeviceCode CODE = DeviceCode.parse("/t/", """
            compiler nvcc 13.0.88
            ptx 75 spillway.compute_75.ptx
            cubin 75 spillway.sm_75.cubin
            cubin 80 spillway.sm_80.cubin
            cubin 86 spillway.sm_86.cubin
            cubin 90 spillway.sm_90.cubin
            cubin 120 spillway.sm_120.cubin
            """);

    @ParameterizedTest(name = "{0}.{1} -> {2}")
    @CsvSource({
            "8, 6, spillway.sm_86.cubin, false",     // exact
            "8, 0, spillway.sm_80.cubin, false",
            "8, 7, spillway.sm_86.cubin, false",     // Orin: the newest 8.x cubin at or below 8.7
            "8, 9, spillway.sm_86.cubin, false",     // Ada without its own cubin here
            "9, 0, spillway.sm_90.cubin, false",
            "12, 1, spillway.sm_120.cubin, false",
            "10, 0, spillway.compute_75.ptx, true",  // no 10.x cubin: the PTX, JIT-compiled
            "7, 5, spillway.sm_75.cubin, false"})
    void picksACubinOfTheSameMajorElseThePtx(int major, int minor, String file, boolean ptx) {
        CudaCode.Choice c = CudaCode.select(CODE, new ComputeCapability(major, minor)).orElseThrow();
        assertEquals(file, c.entry().file());
        assertEquals(ptx, c.ptx());
        assertTrue(c.description().contains(ptx ? "JIT" : "sm_"), c.description());
    }

    @Test
    void olderDevicesThanThePtxTargetGetNothing() {
        assertFalse(CudaCode.select(CODE, new ComputeCapability(7, 0)).isPresent());
        assertEquals("cubins for sm_75, sm_80, sm_86, sm_90, sm_120; PTX compute_75 and newer", CudaCode.coverage(CODE));
    }

    /** The committed code covers what the README promises: a cubin for each common architecture, PTX for the rest. */
    @ParameterizedTest(name = "{0}.{1}")
    @CsvSource({"7, 5, false", "8, 0, false", "8, 6, false", "8, 9, false", "9, 0, false", "10, 0, false", "12, 0, false", "11, 0, true"})
    void theCommittedCodeRunsOnEveryCurrentArchitecture(int major, int minor, boolean jit) {
        DeviceCode committed = DeviceCode.load(DeviceCode.CUDA).orElseThrow();
        CudaCode.Choice c = CudaCode.select(committed, new ComputeCapability(major, minor)).orElseThrow();
        assertEquals(jit, c.ptx(), c.description());
    }
}
