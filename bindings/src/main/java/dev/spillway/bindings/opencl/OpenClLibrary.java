package dev.spillway.bindings.opencl;

import dev.spillway.bindings.NativeLibrary;
import java.util.Optional;

/**
 * Loads the OpenCL ICD loader ({@code libOpenCL.so.1}) on demand. Nothing in
 * {@code dev.spillway.bindings.opencl.gen} may be called before {@link #load()} returned empty: the
 * generated downcalls look their symbols up in the libraries loaded so far.
 */
public final class OpenClLibrary {
    private static Optional<String> outcome;   // null until the first load()

    private OpenClLibrary() {
    }

    /**
     * Loads the library once; later calls return the first outcome.
     *
     * @return empty when OpenCL can be called, else a one-line reason (never throws for a missing library)
     */
    public static synchronized Optional<String> load() {
        if (outcome == null) {
            outcome = NativeLibrary.load("libOpenCL.so.1", "libOpenCL.so");
        }
        return outcome;
    }

    /** Throws {@link IllegalStateException} with the reason unless the library is loaded. */
    public static void require() {
        load().ifPresent(reason -> {
            throw new IllegalStateException("OpenCL is not available: " + reason);
        });
    }
}
