package dev.spillway.bindings;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Loads a native library by soname, on demand, for the jextract bindings in the {@code …gen}
 * packages (which were generated without a library name and look symbols up in the libraries
 * their class loader has loaded).
 *
 * <p>A missing library is an expected outcome on most machines ("no CUDA here"), so {@link #load}
 * returns the reason instead of throwing, and no generated class is touched before it succeeded.
 */
public final class NativeLibrary {
    private NativeLibrary() {
    }

    /** Where to look, after LD_LIBRARY_PATH: the usual system and vendor folders. */
    private static final List<String> SYSTEM_DIRS = List.of(
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu",
            "/lib64", "/usr/local/lib", "/usr/local/cuda/lib64", "/usr/local/nvidia/lib64",
            "/usr/lib/wsl/lib", "/opt/rocm/lib");

    /**
     * Loads the first of {@code sonames} found.
     *
     * @return empty when loaded (or already loaded), else a one-line reason naming the sonames and folders searched
     */
    public static synchronized Optional<String> load(String... sonames) {
        List<Path> dirs = searchDirs();
        List<String> failures = new ArrayList<>();
        for (String soname : sonames) {
            for (Path dir : dirs) {
                Path candidate = dir.resolve(soname);
                if (!Files.exists(candidate)) {
                    continue;
                }
                try {
                    System.load(candidate.toAbsolutePath().toString());
                    return Optional.empty();
                } catch (UnsatisfiedLinkError e) {
                    failures.add(candidate + ": " + e.getMessage());
                }
            }
        }
        // Not in the usual folders: ask the dynamic linker's cache (libraries registered with ldconfig).
        for (String soname : sonames) {
            Optional<Path> cached = linkerCachePath(soname);
            if (cached.isPresent()) {
                try {
                    System.load(cached.get().toString());
                    return Optional.empty();
                } catch (UnsatisfiedLinkError e) {
                    failures.add(cached.get() + ": " + e.getMessage());
                }
            }
        }
        String names = String.join(" or ", sonames);
        if (!failures.isEmpty()) {
            return Optional.of(names + " found but could not be loaded: " + String.join("; ", failures));
        }
        return Optional.of(names + " not found (searched LD_LIBRARY_PATH, " + SYSTEM_DIRS.size()
                + " system folders and the ldconfig cache)");
    }

    /** The path {@code ldconfig -p} lists for {@code soname} on this architecture, if any. */
    static Optional<Path> linkerCachePath(String soname) {
        for (String ldconfig : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig")) {
            if (!Files.isExecutable(Path.of(ldconfig))) {
                continue;
            }
            try {
                Process p = new ProcessBuilder(ldconfig, "-p").redirectErrorStream(true).start();
                String arch = System.getProperty("os.arch").equals("aarch64") ? "AArch64" : "x86-64";
                Optional<Path> found;
                try (var reader = p.inputReader()) {
                    // Lines look like: "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"
                    found = reader.lines()
                            .map(String::trim)
                            .filter(l -> l.startsWith(soname + " ") && l.contains(arch) && l.contains("=> "))
                            .map(l -> Path.of(l.substring(l.indexOf("=> ") + 3).trim()))
                            .findFirst();
                }
                if (!p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
                return found;
            } catch (java.io.IOException e) {
                return Optional.empty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    private static List<Path> searchDirs() {
        Set<String> dirs = new LinkedHashSet<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String d : ld.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(d);
                }
            }
        }
        dirs.addAll(SYSTEM_DIRS);
        return dirs.stream().map(Path::of).toList();
    }
}
