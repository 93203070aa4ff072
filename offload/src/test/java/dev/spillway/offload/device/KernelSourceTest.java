package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The packaged kernel source: one program string, the geometry the host launches, every kernel the backend names. */
class KernelSourceTest {

    @Test
    void theOpenClProgramIsOneStringWithoutIncludes() {
        String program = KernelSource.openCl();
        assertFalse(program.contains("#include \""), "local includes are inlined");
        assertTrue(program.indexOf("#define SPILLWAY_PORTABLE_H") < program.indexOf("SPW_KERNEL void spw_rms_norm"),
                "the portable header comes before the kernels");
        assertTrue(KernelSource.inline("spillway.cu").contains("extern \"C\" __global__"), "the CUDA entry inlines the same files");
    }

    @Test
    void theHostLaunchesTheGroupSizesTheKernelsWereWrittenFor() {
        String kernels = KernelSource.resource("kernels/spillway_kernels.inc");
        Map<String, Integer> expected = Map.of("SPW_MV_ROWS", KernelGeometry.MATVEC_ROWS,
                "SPW_MV_LANES", KernelGeometry.MATVEC_LANES, "SPW_MT_ROWS", KernelGeometry.MATMUL_ROWS,
                "SPW_MT_TOKENS", KernelGeometry.MATMUL_TOKENS, "SPW_MT_WG", KernelGeometry.MATMUL_GROUP,
                "SPW_NORM_WG", KernelGeometry.NORM_GROUP, "SPW_ATTN_WG", KernelGeometry.ATTENTION_GROUP,
                "SPW_ROW_WG", KernelGeometry.ROW_GROUP, "SPW_ATTN_SPLIT", KernelGeometry.ATTENTION_SPLIT_KEYS);
        assertTrue(kernels.contains("int rows0, int rows1, int rows2,") && DeviceBackend.MAX_FUSED == 3,
                "the matmul kernels take three weights, as the host fills them");
        Map<String, Integer> modes = Map.of("SPW_INPUT_PLAIN", DeviceBackend.INPUT_PLAIN, "SPW_INPUT_GATED",
                DeviceBackend.INPUT_GATED, "SPW_INPUT_NORMED", DeviceBackend.INPUT_NORMED);
        for (var e : modes.entrySet()) {
            Matcher m = Pattern.compile("#define " + e.getKey() + " (\\d+)").matcher(kernels);
            assertTrue(m.find(), e.getKey() + " is defined");
            assertEquals(e.getValue(), Integer.parseInt(m.group(1)), e.getKey());
        }
        for (var e : expected.entrySet()) {
            Matcher m = Pattern.compile("#define " + e.getKey() + " (\\d+)").matcher(kernels);
            assertTrue(m.find(), e.getKey() + " is defined");
            int value = Integer.parseInt(m.group(1));
            assertEquals(e.getValue(), value, e.getKey());
            assertEquals(0, value & (value - 1), e.getKey() + " is a power of two (tree reductions)");
        }
    }

    @Test
    void everyKernelTheBackendLaunchesIsDefined() {
        String kernels = KernelSource.resource("kernels/spillway_kernels.inc");
        assertTrue(kernels.contains("SPW_KERNEL void spw_attention_##SUFFIX(")
                && kernels.contains("SPW_KERNEL void spw_attention_split_##SUFFIX("), "one-pass and split attention per pair");
        for (KernelTable.Fixed f : KernelTable.Fixed.values()) {
            assertTrue(kernels.contains("SPW_KERNEL void " + f.kernel + "("), f.kernel);
        }
        for (String fixed : new String[] {"spw_rms_norm", "spw_rope", "spw_swiglu", "spw_add", "spw_copy_rows"}) {
            assertTrue(kernels.contains("SPW_KERNEL void " + fixed + "("), fixed);
        }
        for (GgmlType t : DeviceBackend.MATMUL_TYPES) {
            String s = DeviceBackend.suffix(t);
            String kind = t.blockElements() == 1 ? "ELEMENTS" : "BLOCKS";
            assertTrue(kernels.contains("SPW_DEFINE_MATMULS_" + kind + "(" + s + ")\n"), "matvec and matmul of " + t);
        }
        assertTrue(kernels.contains("SPW_DEFINE_MATVEC_ELEMENTS(spw_matvec_##T, spw_elem_##T)")
                && kernels.contains("SPW_DEFINE_MATMUL_TILED(spw_matmul_##T, spw_tile_##T)")
                && kernels.contains("SPW_DEFINE_MATVEC_BLOCKS(spw_matvec_##T, spw_decode32_##T)"), "both kernels per type");
        for (GgmlType t : DeviceBackend.KV_TYPES) {
            String s = DeviceBackend.suffix(t);
            Matcher code = Pattern.compile("#define SPW_KV_" + t.name() + " (\\d+)").matcher(kernels);
            assertTrue(code.find(), "kv store of " + t);
            assertEquals(DeviceBackend.kvTypeCode(t), Integer.parseInt(code.group(1)), "SPW_KV_" + t.name());
            assertTrue(kernels.contains("SPW_DEFINE_ATTENTION_FOR_K(" + s + ")"), "attention with K in " + t);
            assertTrue(kernels.contains("SPW_DEFINE_ATTENTION(KT##_" + s + ", spw_elem_##KT, spw_elem_" + s + ")"),
                    "attention with V in " + t);
        }
    }
}
