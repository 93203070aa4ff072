package dev.spillway.engine.util;

/**
 * Makes text from a file safe to print on a terminal. GGUF metadata keys, string values and tensor
 * names are arbitrary UTF-8, so a hostile file could otherwise move the cursor, clear the screen or
 * fake lines of output (ESC sequences, CR, LF) when {@code spillway info} or an error message
 * quotes it.
 */
public final class Printable {
    private Printable() {
    }

    /**
     * {@code text} with every control character escaped: the C0 controls U+0000..U+001F (tab, LF and
     * CR as {@code \t}, {@code \n}, {@code \r}, the rest as {@code \xHH}, e.g. ESC as {@code \x1b}),
     * DEL as {@code \x7f} and the C1 controls U+0080..U+009F as {@code \u009b}. Everything else,
     * backslashes included, is kept, so the result of escaping holds no control character and
     * escaping it again changes nothing. Returns {@code text} itself when there is nothing to escape.
     */
    public static String escape(String text) {
        if (text == null) {
            return null;
        }
        int first = 0;
        while (first < text.length() && !isControl(text.charAt(first))) {
            first++;
        }
        if (first == text.length()) {
            return text;
        }
        StringBuilder b = new StringBuilder(text.length() + 8).append(text, 0, first);
        for (int i = first; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!isControl(c)) {
                b.append(c);
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c == '\r') {
                b.append("\\r");
            } else if (c == '\t') {
                b.append("\\t");
            } else if (c < 0x80) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        return b.toString();
    }

    /** C0 (U+0000..U+001F), DEL (U+007F) or C1 (U+0080..U+009F). */
    private static boolean isControl(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f);
    }
}
