package dev.spillway.engine.gguf;

import dev.spillway.engine.util.Printable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A GGUF file is malformed, truncated, or lacks what was asked of it. The message names the file,
 * the byte offset (when there is one) and what was wrong, e.g.
 * {@code stories.gguf @ 0x1a2: tensor 'blk.0.attn_q.weight' data [0x..., 0x...) runs past end of file (size 0x...)}.
 * Details quote keys, names and values from the file, so their control characters are escaped
 * ({@link Printable#escape}): the message is one printable line.
 */
public class GgufFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path path;
    private final long offset;
    private final String detail;

    /**
     * @param path   the file, or null when parsing bytes that came from elsewhere
     * @param offset the byte offset in the file where the problem lies, or -1 when none applies
     * @param detail what was wrong
     */
    public GgufFormatException(Path path, long offset, String detail) {
        this(path, offset, detail, null);
    }

    public GgufFormatException(Path path, long offset, String detail, Throwable cause) {
        super(format(path, offset, detail), cause);
        this.path = path;
        this.offset = offset;
        this.detail = Printable.escape(detail);
    }

    private static String format(Path path, long offset, String detail) {
        Path name = path == null ? null : path.getFileName();
        String where = name == null ? "<gguf>" : Printable.escape(name.toString());
        String what = Printable.escape(detail);
        return offset < 0 ? where + ": " + what : where + " @ " + GgufFormat.hex(offset) + ": " + what;
    }

    /** The byte offset in the file where the problem lies, or -1 when none applies. */
    public long offset() {
        return offset;
    }

    /** The file, or null. */
    public Path path() {
        return path;
    }

    /** What was wrong, without the file name and offset. */
    public String detail() {
        return detail;
    }
}
