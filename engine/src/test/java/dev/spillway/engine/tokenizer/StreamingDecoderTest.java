package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StreamingDecoderTest {
    private static final int BYTE0 = 3;

    private final TestVocab vocab = TestVocab.spm().add("▁", -1).add("a", -2).add("▁a", -3);
    private final Tokenizer tokenizer = vocab.build();

    private static List<String> pushAll(Tokenizer.Decoder decoder, int... ids) {
        List<String> out = new ArrayList<>();
        for (int id : ids) {
            out.add(decoder.push(id));
        }
        return out;
    }

    @Test
    void emojiSplitOverByteTokensComesOutWholeOnce() {
        Tokenizer.Decoder d = tokenizer.newDecoder();
        List<String> out = pushAll(d, vocab.id("▁a"), BYTE0 + 0xF0, BYTE0 + 0x9F, BYTE0 + 0x98, BYTE0 + 0x80, vocab.id("a"));
        assertEquals(List.of(" a", "", "", "", "😀", "a"), out);
        assertEquals("", d.finish());
    }

    @Test
    void incompleteSequenceAtTheEndBecomesReplacementCharacter() {
        Tokenizer.Decoder d = tokenizer.newDecoder();
        assertEquals(List.of("a", ""), pushAll(d, vocab.id("a"), BYTE0 + 0xE2));
        assertEquals("\uFFFD", d.finish());
        // the decoder starts afresh after finish
        assertEquals(List.of("a"), pushAll(d, vocab.id("a")));
        assertEquals("", d.finish());
    }

    @Test
    void invalidBytesBecomeReplacementCharactersAtOnce() {
        Tokenizer.Decoder d = tokenizer.newDecoder();
        assertEquals("\uFFFD", d.push(BYTE0 + 0xFF), "0xFF never occurs in UTF-8");
        assertEquals("\uFFFD", d.push(BYTE0 + 0x80), "a lone continuation byte");
        // a truncated sequence interrupted by another character: one U+FFFD for the maximal subpart
        assertEquals(List.of("", "", "\uFFFDa"), pushAll(d, BYTE0 + 0xE2, BYTE0 + 0x82, vocab.id("a")));
        assertEquals("", d.finish());
    }

    @Test
    void streamedTextEqualsWholeDecode() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200; i++) {
            String s = RandomText.next(random, 30);
            int[] ids = tokenizer.encode(s, true);
            for (DecodeOptions options : new DecodeOptions[] {DecodeOptions.TEXT, DecodeOptions.CONTINUATION}) {
                Tokenizer.Decoder d = tokenizer.newDecoder(options);
                StringBuilder sb = new StringBuilder();
                for (int id : ids) {
                    sb.append(d.push(id));
                }
                sb.append(d.finish());
                assertEquals(tokenizer.decode(ids, options), sb.toString());
            }
            assertEquals(s, tokenizer.decode(ids));
        }
    }

    @Test
    void randomByteSoupDecodesLikeTheJdk() {
        // any byte sequence, streamed one byte token at a time, gives what decoding it at once gives
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < 300; i++) {
            byte[] bytes = new byte[random.nextInt(12)];
            for (int j = 0; j < bytes.length; j++) {
                bytes[j] = (byte) (random.nextBoolean() ? random.nextInt(0x80, 0x100) : random.nextInt(0x100));
            }
            int[] ids = new int[bytes.length];
            for (int j = 0; j < bytes.length; j++) {
                ids[j] = BYTE0 + (bytes[j] & 0xFF);
            }
            Tokenizer.Decoder d = tokenizer.newDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(d.push(id));
            }
            sb.append(d.finish());
            assertEquals(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), sb.toString());
        }
    }
}
