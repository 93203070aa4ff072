package dev.spillway.offload.device;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The precompiled device code of one API (CUDA PTX and cubins, or a HIP code-object bundle), as
 * {@code native/build-device-code.sh} writes it into the offload jar's resources: a folder with the
 * binaries and a {@code manifest.txt} that lists them.
 *
 * <pre>
 * # comment
 * compiler nvcc 13.0.88
 * source spillway.cu 3f2a…            (sha256 of each kernel source file the build read)
 * ptx 75 spillway.compute_75.ptx      (kind, target, file)
 * cubin 86 spillway.sm_86.cubin
 * bundle gfx900,gfx90a spillway.hipfb
 * </pre>
 *
 * @param folder   resource folder, e.g. {@code /dev/spillway/offload/cuda/}
 * @param compiler the compiler and version that built the files
 * @param sources  kernel source path (relative to {@code native/}) to its sha256, hex
 * @param entries  the binaries, in manifest order
 */
public record DeviceCode(String folder, String compiler, Map<String, String> sources, List<Entry> entries) {

    /** Resource folder of the CUDA code. */
    public static final String CUDA = "/dev/spillway/offload/cuda/";
    /** Resource folder of the HIP code. */
    public static final String HIP = "/dev/spillway/offload/hip/";

    /** One binary: {@code kind} ({@code ptx}, {@code cubin}, {@code bundle}), its target(s), its file name. */
    public record Entry(String kind, String target, String file) {
    }

    public DeviceCode {
        sources = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sources));
        entries = List.copyOf(entries);
    }

    /** Reads {@code folder/manifest.txt} from the class path; empty when this build has no code for the API. */
    public static Optional<DeviceCode> load(String folder) {
        return readResource(folder + "manifest.txt").map(bytes -> parse(folder, new String(bytes, StandardCharsets.UTF_8)));
    }

    /** Parses a manifest's text; a malformed line is an {@link IllegalArgumentException} naming it. */
    public static DeviceCode parse(String folder, String text) {
        String compiler = null;
        Map<String, String> sources = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+");
            String where = folder + "manifest.txt line " + (i + 1) + ": ";
            switch (f[0]) {
                case "compiler" -> compiler = line.substring("compiler".length()).strip();
                case "source" -> {
                    if (f.length != 3 || !f[2].matches("[0-9a-f]{64}")) {
                        throw new IllegalArgumentException(where + "expected 'source PATH SHA256', got '" + line + "'");
                    }
                    sources.put(f[1], f[2]);
                }
                case "ptx", "cubin", "bundle" -> {
                    if (f.length != 3) {
                        throw new IllegalArgumentException(where + "expected '" + f[0] + " TARGET FILE', got '" + line + "'");
                    }
                    entries.add(new Entry(f[0], f[1], f[2]));
                }
                default -> throw new IllegalArgumentException(where + "unknown kind '" + f[0] + "'");
            }
        }
        if (compiler == null || entries.isEmpty()) {
            throw new IllegalArgumentException(folder + "manifest.txt names no compiler or no binaries");
        }
        return new DeviceCode(folder, compiler, sources, entries);
    }

    /** The entries of one kind. */
    public List<Entry> entries(String kind) {
        return entries.stream().filter(e -> e.kind().equals(kind)).toList();
    }

    /** The bytes of {@code entry}'s file. */
    public byte[] read(Entry entry) {
        return readResource(folder + entry.file()).orElseThrow(() -> new IllegalStateException(
                "device code " + folder + entry.file() + " is listed in the manifest but missing from the class path"));
    }

    private static Optional<byte[]> readResource(String path) {
        try (InputStream in = DeviceCode.class.getResourceAsStream(path)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }
}
