package dev.spillway.offload.device;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The portable kernel source ({@code native/} in the repository), packaged as resources of the
 * offload jar under {@code dev/spillway/native/}. Runtimes that compile at run time (OpenCL) get one
 * program string with the entry file's {@code #include "…"} lines replaced by the files they name:
 * no include paths are needed at run time.
 */
public final class KernelSource {
    /** Resource folder of the packaged {@code native/} tree. */
    static final String ROOT = "/dev/spillway/native/";
    private static final Pattern INCLUDE = Pattern.compile("(?m)^#include \"([A-Za-z0-9_./-]+)\"\\s*$");

    private KernelSource() {
    }

    /** The OpenCL program: {@code spillway.cl} with its includes inlined. */
    public static String openCl() {
        return inline("spillway.cl");
    }

    /** {@code entry} (relative to {@code native/}) with every local include inlined, each once. */
    static String inline(String entry) {
        String text = resource(entry);
        StringBuilder out = new StringBuilder(text.length() * 8);
        Matcher m = INCLUDE.matcher(text);
        int last = 0;
        while (m.find()) {
            out.append(text, last, m.start());
            out.append("/* ---- begin ").append(m.group(1)).append(" ---- */\n");
            out.append(resource(m.group(1)));
            out.append("\n/* ---- end ").append(m.group(1)).append(" ---- */\n");
            last = m.end();
        }
        out.append(text, last, text.length());
        return out.toString();
    }

    static String resource(String path) {
        try (InputStream in = KernelSource.class.getResourceAsStream(ROOT + path)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + ROOT + path + " is not on the class path "
                        + "(the offload jar packages ../native as resources)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel source " + path, e);
        }
    }
}
