package dev.spillway.offload.opencl;

import dev.spillway.engine.tensor.GgmlType;
import java.util.List;

/** The types the device kernels cover (the same as the CPU backend's). */
final class DeviceBackendTypes {
    private DeviceBackendTypes() {
    }

    /** Weight types of MATMUL. */
    static final List<GgmlType> MATMUL = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
            GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);

    /** KV cache types of KV_STORE and ATTENTION. */
    static final List<GgmlType> KV = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0);
}
