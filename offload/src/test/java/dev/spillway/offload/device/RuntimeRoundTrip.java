package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
        try (DeviceBuffer b = runtime.allocate(8000); Arena host = Arena.ofConfined()) {
            MemorySegment up = host.allocate(8000, 64);
            MemorySegment.copy(data, 0, up, ValueLayout.JAVA_FLOAT, 0, data.length);
            runtime.upload(b, 0, up);
            MemorySegment back = host.allocate(2000, 64);
            runtime.download(b, 2000, back);   // waits for the upload too: host memory is freed after this
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 500, 1000), back.toArray(ValueLayout.JAVA_FLOAT));
            assertThrows(IllegalArgumentException.class, () -> runtime.upload(b, 0, MemorySegment.ofArray(data)),
                    "runtimes take native memory only");
        }
    }
}
