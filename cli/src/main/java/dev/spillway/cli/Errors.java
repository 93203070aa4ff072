package dev.spillway.cli;

import dev.spillway.engine.gguf.MappedFileChangedException;
import dev.spillway.engine.util.Printable;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * Turns exceptions into the one-line messages the CLI prints. Messages may quote a model file's
 * metadata, so control characters are escaped ({@link Printable#escape}) whatever the source.
 */
final class Errors {
    private Errors() {
    }

    /**
     * Builds library parameters from parsed options. The parameter records validate their values
     * with IllegalArgumentException (e.g. {@code top_p must be in (0, 1]}); here such a value came
     * from a flag, so it is a usage error (exit 2), not a runtime one.
     */
    static <T> T fromOptions(CommandLine commandLine, Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(commandLine, e.getMessage(), e);
        }
    }

    static String describe(Throwable e) {
        return Printable.escape(message(e));
    }

    private static String message(Throwable e) {
        if (MappedFileChangedException.isMappingFault(e)) {
            return "the model file changed or was truncated while mapped (reading it faulted)";
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory (" + e.getMessage() + "); give Java more with SPILLWAY_JAVA_OPTS=-Xmx...";
        }
        if (e instanceof NoSuchFileException n) {
            return "no such file: " + n.getFile();
        }
        if (e instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        String msg = e.getMessage();
        if (msg == null || msg.isBlank()) {
            msg = e.getClass().getSimpleName();
        }
        return msg;
    }
}
