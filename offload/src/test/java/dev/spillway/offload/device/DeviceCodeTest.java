package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device code committed as resources: its manifests parse, list files that are there, and were
 * built from the kernel source as it is now (sha256 of every source file), so an edited kernel
 * without rebuilt PTX/cubins/code objects fails here even where nvcc and hipcc are absent.
 */
class DeviceCodeTest {

    @ParameterizedTest
    @ValueSource(strings = {DeviceCode.CUDA, DeviceCode.HIP})
    void committedCodeWasBuiltFromTheCurrentKernelSource(String folder) throws Exception {
        DeviceCode code = DeviceCode.load(folder).orElseThrow(() -> new AssertionError(folder + "manifest.txt missing"));
        assertTrue(code.sources().keySet().containsAll(List.of("spillway.cu", "include/spillway_portable.h", "kernels/spillway_kernels.inc")),
                code.sources().toString());
        for (Map.Entry<String, String> source : code.sources().entrySet()) {
            try (InputStream in = DeviceCode.class.getResourceAsStream("/dev/spillway/native/" + source.getKey())) {
                assertTrue(in != null, "kernel source " + source.getKey() + " is packaged");
                String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(in.readAllBytes()));
                assertEquals(source.getValue(), sha, source.getKey() + " changed since " + folder
                        + " was built: run native/build-device-code.sh and commit its output");
            }
        }
        for (DeviceCode.Entry e : code.entries()) {
            assertTrue(code.read(e).length > 1000, e.file() + " is a real binary");
        }
    }

    @Test
    void cudaCodeHasPtxAndCubinsThatLookLikeThem() {
        DeviceCode cuda = DeviceCode.load(DeviceCode.CUDA).orElseThrow();
        assertTrue(cuda.compiler().startsWith("nvcc "), cuda.compiler());
        DeviceCode.Entry ptx = cuda.entries("ptx").getFirst();
        String text = new String(cuda.read(ptx), StandardCharsets.US_ASCII);
        assertTrue(text.contains(".target sm_" + ptx.target()), "PTX targets compute_" + ptx.target());
        for (String kernel : List.of("spw_rms_norm", "spw_rope", "spw_swiglu", "spw_add", "spw_matmul_q4_k")) {
            assertTrue(text.contains(".entry " + kernel + "("), kernel + " is exported unmangled");
        }
        for (DeviceCode.Entry cubin : cuda.entries("cubin")) {
            byte[] elf = cuda.read(cubin);
            assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, java.util.Arrays.copyOf(elf, 4), cubin.file() + " is an ELF image");
        }
        assertTrue(cuda.entries("cubin").stream().map(DeviceCode.Entry::target).toList().containsAll(List.of("80", "86", "89", "90")));
    }

    @Test
    void hipCodeIsOneBundleForTheListedTargets() {
        DeviceCode hip = DeviceCode.load(DeviceCode.HIP).orElseThrow();
        DeviceCode.Entry bundle = hip.entries("bundle").getFirst();
        byte[] bytes = hip.read(bundle);
        String head = new String(bytes, 0, 24, StandardCharsets.US_ASCII);
        assertEquals("__CLANG_OFFLOAD_BUNDLE__", head, "clang offload bundle magic");
        String all = new String(bytes, StandardCharsets.ISO_8859_1);
        for (String gfx : bundle.target().split(",")) {
            assertTrue(all.contains("hipv4-amdgcn-amd-amdhsa--" + gfx), "bundle has a code object for " + gfx);
        }
        assertTrue(bundle.target().contains("gfx90a") && bundle.target().contains("gfx1030"), bundle.target());
    }

    @Test
    void malformedManifestsNameTheLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DeviceCode.parse("/x/", "compiler nvcc 1\ncubin 80\n"));
        assertTrue(e.getMessage().startsWith("/x/manifest.txt line 2: expected 'cubin TARGET FILE'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DeviceCode.parse("/x/", "compiler nvcc 1\nsource a.cu nothex\nptx 75 a.ptx"));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DeviceCode.parse("/x/", "# only a comment\n"));
        assertFalse(DeviceCode.load("/dev/spillway/offload/none/").isPresent());
    }

    /**
     * Every kernel of the PTX is a function symbol of every cubin and of every HIP code object: what
     * cuModuleGetFunction and hipModuleGetFunction will look up, whichever image a device loads.
     */
    @Test
    void everyImageExportsTheSameKernels() {
        DeviceCode cuda = DeviceCode.load(DeviceCode.CUDA).orElseThrow();
        java.util.TreeSet<String> kernels = ElfSymbols.ptxEntries(new String(cuda.read(cuda.entries("ptx").getFirst()), StandardCharsets.US_ASCII));
        assertEquals(List.of(), ElfSymbols.missing(backendKernels(), kernels), "kernels DeviceBackend launches");
        for (DeviceCode.Entry cubin : cuda.entries("cubin")) {
            assertEquals(List.of(), ElfSymbols.missing(kernels, ElfSymbols.functions(cuda.read(cubin))), cubin.file() + " lacks kernels");
        }
        DeviceCode hip = DeviceCode.load(DeviceCode.HIP).orElseThrow();
        DeviceCode.Entry bundle = hip.entries("bundle").getFirst();
        Map<String, byte[]> objects = ElfSymbols.bundleEntries(hip.read(bundle));
        for (String gfx : bundle.target().split(",")) {
            byte[] object = objects.get("hipv4-amdgcn-amd-amdhsa--" + gfx);
            assertTrue(object != null, "bundle entry for " + gfx + " in " + objects.keySet());
            assertEquals(List.of(), ElfSymbols.missing(kernels, ElfSymbols.functions(object)), gfx + " lacks kernels");
        }
    }

    /** Every kernel name {@link DeviceBackend} can launch, for every weight and cache type it supports. */
    static java.util.TreeSet<String> backendKernels() {
        java.util.TreeSet<String> names = new java.util.TreeSet<>();
        for (KernelTable.Fixed f : KernelTable.Fixed.values()) {
            names.add(f.kernel);
        }
        DeviceBackend.MATMUL_TYPES.forEach(t -> names.add("spw_matmul_" + DeviceBackend.suffix(t)));
        DeviceBackend.MATMUL_TYPES.forEach(t -> names.add("spw_matvec_" + DeviceBackend.suffix(t)));
        for (var k : DeviceBackend.KV_TYPES) {
            for (var v : DeviceBackend.KV_TYPES) {
                names.add("spw_attention_" + DeviceBackend.suffix(k) + "_" + DeviceBackend.suffix(v));
                names.add("spw_attention_split_" + DeviceBackend.suffix(k) + "_" + DeviceBackend.suffix(v));
            }
        }
        return names;
    }
}
