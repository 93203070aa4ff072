package dev.spillway.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.model.ReferenceLlama;
import dev.spillway.engine.sampling.Sampler;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real stories260K vocabulary (512 SentencePiece tokens with byte fallback), read from
 * ../shared/models; skipped when the file is absent.
 *
 * <p>The expected ids below were not produced by this tokenizer: they come from SentencePiece 0.2.2
 * itself, given a model built from this file's tokens, scores and types (BPE, byte fallback,
 * identity normalizer, dummy prefix, no whitespace collapsing), which agreed with this tokenizer
 * on 3000 random texts as well.
 */
class Stories260KTokenizerTest {
    private static Tokenizer tokenizer;

    /** Loads the tokenizer once; every test is skipped, with the reason, when the model is absent. */
    @BeforeEach
    void load() throws Exception {
        Path path = TestModels.stories260K();
        if (tokenizer == null) {
            try (GgufFile file = GgufFile.open(path)) {
                tokenizer = Tokenizer.fromMetadata(file.metadata());
            }
        }
    }

    private static String pieces(int[] ids) {
        return Arrays.stream(ids).mapToObj(tokenizer::piece).collect(Collectors.joining("|"));
    }

    @Test
    void metadata() {
        assertEquals("llama", tokenizer.model());
        assertEquals(512, tokenizer.vocabSize());
        assertEquals(1, tokenizer.bosId());
        assertEquals(2, tokenizer.eosId());
        assertEquals(0, tokenizer.unknownId());
        assertTrue(tokenizer.addBos());
        assertTrue(tokenizer.isEndOfGeneration(2));
        assertEquals("<s>", tokenizer.piece(1));
        assertEquals(TokenType.BYTE, tokenizer.tokenType(3 + 0x0A));
        assertEquals("<0x0A>", tokenizer.piece(3 + 0x0A));
    }

    @Test
    void onceUponATime() {
        int[] ids = tokenizer.encode("Once upon a time", true);
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, ids);
        assertEquals("<s>|▁Once|▁upon|▁a|▁time", pieces(ids));
        assertEquals("Once upon a time", tokenizer.decode(ids));
    }

    @Test
    void sentencePieceVectors() {
        assertEquals("▁Lily|▁saw|▁a|▁big|,|▁r|ed|▁b|all|!|▁|<0xF0>|<0x9F>|<0x98>|<0x80>",
                pieces(tokenizer.encode("Lily saw a big, red ball! 😀", false)));
        assertEquals("▁|▁|▁t|w|o|▁|▁s|p|a|ce|s|<0x0A>|a|nd|▁a|▁ne|w|l|in|e",
                pieces(tokenizer.encode("  two  spaces\nand a newline", false)));
        assertEquals("▁n|a|<0xC3>|<0xAF>|ve|▁c|a|f|é", pieces(tokenizer.encode("naïve café", false)));
    }

    @Test
    void emojiTravelsAsFourByteTokensAndStreamsOutWhole() {
        int[] ids = tokenizer.encode("😀", false);
        byte[] utf8 = "😀".getBytes(StandardCharsets.UTF_8);
        assertEquals(1 + utf8.length, ids.length, "the space prefix, then one token per byte: " + pieces(ids));
        for (int i = 0; i < utf8.length; i++) {
            assertEquals(String.format("<0x%02X>", utf8[i] & 0xFF), tokenizer.piece(ids[1 + i]));
        }
        Tokenizer.Decoder decoder = tokenizer.newDecoder();
        StringBuilder seen = new StringBuilder();
        for (int id : ids) {
            String piece = decoder.push(id);
            assertTrue(piece.isEmpty() || piece.equals(" ") || piece.equals("😀"), "no partial character: " + piece);
            seen.append(piece);
        }
        assertEquals(" 😀", seen.append(decoder.finish()).toString());
    }

    @Test
    void arbitraryTextRoundTrips() {
        SplittableRandom random = new SplittableRandom(260);
        for (int i = 0; i < 300; i++) {
            String s = RandomText.next(random, 40);
            boolean bos = random.nextBoolean();
            int[] ids = tokenizer.encode(s, bos);
            assertEquals(s, tokenizer.decode(ids), () -> "round trip of '" + s + "': " + pieces(ids));
            assertTrue(Arrays.stream(ids).allMatch(id -> id != tokenizer.unknownId()), "byte fallback covers everything");
        }
    }

    /**
     * Tokenizer, greedy sampler and streaming decoder around the plain reference forward pass: the
     * continuation of "Once upon a time" must be the one the model's README gives.
     */
    @Test
    void greedyContinuationThroughTheReferenceModelMatchesTheReadme() throws Exception {
        String readme = ", there was a little girl named Lily. She loved to play outside in the park.";
        try (GgufFile file = GgufFile.open(TestModels.stories260K())) {
            ReferenceLlama model = new ReferenceLlama(file, 64);
            Sampler sampler = new Sampler(SamplingParams.greedy(), tokenizer.vocabSize());
            float[] logits = null;
            for (int id : tokenizer.encode("Once upon a time", tokenizer.addBos())) {
                logits = model.forward(id);
                sampler.accept(id);
            }
            Tokenizer.Decoder decoder = tokenizer.newDecoder();
            StringBuilder text = new StringBuilder();
            while (text.length() < readme.length()) {
                int id = sampler.sample(logits);
                assertTrue(!tokenizer.isEndOfGeneration(id), "ended early after: " + text);
                sampler.accept(id);
                text.append(decoder.push(id));
                logits = model.forward(id);
            }
            assertEquals(readme, text.append(decoder.finish()).substring(0, readme.length()));
        }
    }

    @Test
    void specialTokensInText() {
        assertArrayEquals(new int[] {403, 2, 1, 407}, tokenizer.encode("Once</s><s>upon", false, true));
        int[] plain = tokenizer.encode("Once</s>", false);
        assertTrue(Arrays.stream(plain).noneMatch(id -> id == 2), pieces(plain));
    }
}
