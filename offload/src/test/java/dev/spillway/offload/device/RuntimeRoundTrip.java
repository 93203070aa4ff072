package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** Checks a runtime on a real device: kernels of the shared source resolve, and bytes survive a round trip. */
public final class RuntimeRoundTrip {
    /** Kernels every placement launches (the rest are per weight or cache type). */
    static final List<String> KERNELS = List.of("spw_rms_norm", "spw_rope", "spw_swiglu", "spw_add", "spw_copy_rows",
            "spw_matmul_f32", "spw_matmul_q4_k", "spw_matmul_q6_k");

    private RuntimeRoundTrip() {
    }

    public static void check(DeviceRuntime runtime) {
        for (String name : KERNELS) {
            DeviceRuntime.Kernel k = runtime.kernel(name);
            assertEquals(name, k.name());
            assertSame(k, runtime.kernel(name), name + " is looked up once");
        }
        float[] data = new float[1000];
        for (int i = 0; i < data.length; i++) {
            data[i] = i * 0.25f - 7;
        }
        try (DeviceBuffer b = runtime.allocate(8000)) {
            runtime.upload(b, 0, MemorySegment.ofArray(data));
            float[] back = new float[500];
            runtime.download(b, 2000, MemorySegment.ofArray(back));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 500, 1000), back);
        }
    }
}
