package dev.spillway.engine.gguf;

import java.nio.file.Path;

/**
 * A memory-mapped model file changed under the mapping: another process truncated (or replaced in
 * place) the file while it was in use, so reading some of its pages faulted. The JVM reports such a
 * fault (SIGBUS on Linux) as {@code java.lang.InternalError: a fault occurred in an unsafe memory
 * access}; {@link #translate} turns that one error into this exception, which names the file.
 */
public class MappedFileChangedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final transient Path path;

    public MappedFileChangedException(Path path, Throwable cause) {
        super("model file " + path + " changed or was truncated while mapped (reading it faulted); reload the model",
                cause);
        this.path = path;
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /**
     * Whether {@code error} is the JVM's report of a fault while accessing memory through a mapping:
     * its message is "a fault occurred in an unsafe memory access" (or "...in a recent unsafe memory
     * access operation in compiled Java code").
     */
    public static boolean isMappingFault(Throwable error) {
        return error instanceof InternalError && error.getMessage() != null
                && error.getMessage().contains("fault occurred in") && error.getMessage().contains("unsafe memory access");
    }

    /**
     * Returns the exception to throw for {@code error}, raised while reading {@code file}: a
     * {@code MappedFileChangedException} for a mapping fault of a memory-mapped file; any other error
     * is rethrown as it is.
     */
    public static MappedFileChangedException translate(InternalError error, GgufFile file) {
        if (file.memoryMapped() && isMappingFault(error)) {
            return new MappedFileChangedException(file.path(), error);
        }
        throw error;
    }
}
