package dev.spillway.engine.model;

import dev.spillway.engine.util.Printable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A well-formed GGUF file that does not describe a model Spillway can run: wrong architecture,
 * missing or inconsistent hyper-parameters, missing tensors or tensors of the wrong shape or type.
 * The message names the file and the key or tensor at fault; it quotes text from the file, so its
 * control characters are escaped ({@link Printable#escape}).
 */
public class InvalidModelException extends IOException {
    private final Path path;

    public InvalidModelException(Path path, String message) {
        super(Printable.escape(path.getFileName() + ": " + message));
        this.path = path;
    }

    public Path path() {
        return path;
    }
}
