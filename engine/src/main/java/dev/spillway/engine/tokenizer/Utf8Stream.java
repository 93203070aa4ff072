package dev.spillway.engine.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Incremental UTF-8 decoding: bytes go in as they come, complete characters come out; an
 * incomplete sequence at the end is held back until more bytes arrive or {@link #finish()}.
 * Malformed input becomes U+FFFD.
 */
final class Utf8Stream {
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    /** In write mode between calls; holds at most the 3 bytes of an unfinished character. */
    private ByteBuffer pending = ByteBuffer.allocate(64);

    String push(byte[] bytes) {
        if (bytes.length == 0) {
            return "";
        }
        if (pending.remaining() < bytes.length) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.position() + bytes.length));
            pending.flip();
            bigger.put(pending);
            pending = bigger;
        }
        pending.put(bytes);
        return drain(false);
    }

    String finish() {
        String s = drain(true);
        decoder.reset();
        return s;
    }

    private String drain(boolean endOfInput) {
        pending.flip();
        // UTF-8 never yields more UTF-16 units than bytes, a replacement included; +1 for flush
        CharBuffer out = CharBuffer.allocate(pending.remaining() + 1);
        decoder.decode(pending, out, endOfInput);
        if (endOfInput) {
            decoder.flush(out);
        }
        pending.compact();
        assert endOfInput ? pending.position() == 0 : pending.position() < 4 : "left over " + pending.position();
        return out.flip().toString();
    }
}
