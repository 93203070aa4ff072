package dev.spillway.engine.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class PrintableTest {
    @Test
    void controlCharactersAreEscaped() {
        assertEquals("\\x1b[2J", Printable.escape("\u001b[2J"));
        assertEquals("a\\nb\\rc\\td", Printable.escape("a\nb\rc\td"));
        assertEquals("\\x00\\x1f\\x7f", Printable.escape("\u0000\u001f\u007f"));
        assertEquals("\\u0080\\u009b\\u009f", Printable.escape("\u0080\u009b\u009f"));
    }

    @Test
    void printableTextIsKept() {
        String text = "blk.0.attn_q.weight ▁the é 漢字 \\x1b \u00a0";
        assertSame(text, Printable.escape(text));
        String once = Printable.escape("x\u001by");
        assertEquals(once, Printable.escape(once), "escaping twice changes nothing");
    }
}
