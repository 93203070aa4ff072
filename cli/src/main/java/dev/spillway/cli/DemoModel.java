package dev.spillway.cli;

import dev.spillway.engine.model.SyntheticLlama;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The built-in demo model: Llama-shaped with random weights, written by the project's own GGUF
 * writer on first use and cached under the user's cache directory
 * ({@code $XDG_CACHE_HOME/spillway}, else {@code ~/.cache/spillway}).
 */
final class DemoModel {
    private DemoModel() {
    }

    static Path cacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("spillway");
    }

    /** Returns the demo model's path, writing it first if it is not cached yet. */
    static Path ensure(PrintWriter err) throws IOException {
        SyntheticLlama.Spec spec = SyntheticLlama.Spec.demo();
        return ensure(spec, err);
    }

    /** Returns a cached synthetic model for {@code spec}, writing it first if needed. */
    static Path ensure(SyntheticLlama.Spec spec, PrintWriter err) throws IOException {
        Path dir = cacheDir();
        Path path = dir.resolve(spec.fileName());
        if (Files.isRegularFile(path)) {
            return path;
        }
        Files.createDirectories(dir);
        err.printf("spillway: writing synthetic model %s (%,d parameters, %s) ...%n", path, spec.parameterCount(), spec.weightType());
        err.flush();
        SyntheticLlama.write(spec, path);
        return path;
    }
}
