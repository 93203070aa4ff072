package dev.spillway.engine.gguf;

import dev.spillway.engine.util.Printable;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * A path given as a GGUF file that is not a regular file: a directory, a FIFO, a socket or a
 * device. The message is the path and what is wrong, e.g. {@code models: is a directory, not a GGUF file}.
 */
public class NotAGgufFileException extends FileSystemException {
    private static final long serialVersionUID = 1L;

    public NotAGgufFileException(Path path, String reason) {
        super(Printable.escape(path.toString()), null, reason);
    }
}
