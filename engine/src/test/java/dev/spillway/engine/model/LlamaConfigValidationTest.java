package dev.spillway.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufFormatException;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hyper-parameters from metadata are checked against the tensors before anything is sized from
 * them: an absurd count is an {@link InvalidModelException} naming the key, the value and the file,
 * never an OutOfMemoryError later.
 */
class LlamaConfigValidationTest {
    @TempDir
    static Path dir;

    /** n_embd 32, 2 layers, n_ff 64, 4 heads of 8 with 2 KV heads, vocab 259, context 64. */
    static final SyntheticLlama.Spec SPEC = new SyntheticLlama.Spec(32, 2, 64, 4, 2, 259, 64, GgmlType.F32, false, 3);
    static Path good;
    static int files;

    @BeforeAll
    static void writeModel() throws IOException {
        good = TestModels.write(SPEC, dir);
    }

    /** The good model with one metadata value replaced (null removes the key). */
    private static Path patched(String key, GgufValue value) throws IOException {
        Map<String, GgufValue> changes = new HashMap<>();
        changes.put(key, value);
        return TestModels.withMetadata(good, dir.resolve("patched-" + ++files + ".gguf"), changes);
    }

    private static InvalidModelException refused(Path file) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            return assertThrows(InvalidModelException.class, () -> LlamaConfig.from(f));
        }
    }

    /** The exception names the file, the key and the value. */
    private static void assertNames(Exception e, Path file, String key, String value) {
        String m = e.getMessage();
        assertTrue(m.contains(file.getFileName().toString()) && m.contains(key) && m.contains(value), m);
    }

    @Test
    void theUnpatchedModelIsValid() throws IOException {
        try (GgufFile f = GgufFile.open(patched("general.name", GgufValue.ofString("unchanged")))) {
            LlamaConfig c = LlamaConfig.from(f);
            assertEquals(2, c.layerCount());
            assertEquals(8, c.headDim());
            assertEquals(64, c.feedForwardDim());
        }
    }

    @Test
    void aBlockCountBeyondTheLayersPresentIsRefused() throws IOException {
        for (int count : new int[] {Integer.MAX_VALUE, 3}) {
            Path p = patched("llama.block_count", GgufValue.ofUint32(count));
            InvalidModelException e = refused(p);
            assertNames(e, p, "llama.block_count", Integer.toString(count));
            assertTrue(e.getMessage().contains("2 layer(s), blk.0. to blk.1."), e.getMessage());
        }
    }

    @Test
    void aBlockCountBelowTheLayersPresentIsRefused() throws IOException {
        Path p = patched("llama.block_count", GgufValue.ofUint32(1));
        assertNames(refused(p), p, "llama.block_count", "1");
    }

    @Test
    void zeroNegativeAndMissingCountsAreRefused() throws IOException {
        Path p = patched("llama.block_count", GgufValue.ofUint32(0));
        assertNames(refused(p), p, "llama.block_count must be positive", "0");
        p = patched("llama.attention.head_count", GgufValue.ofInt32(-1));
        assertNames(refused(p), p, "llama.attention.head_count must be positive", "-1");
        p = patched("llama.feed_forward_length", null);
        assertNames(refused(p), p, "missing llama.feed_forward_length", "");
        // A UINT32 above 2^31 - 1 does not fit an int: a format error naming the key.
        p = patched("llama.block_count", GgufValue.ofUint32(-1));
        try (GgufFile f = GgufFile.open(p)) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> LlamaConfig.from(f));
            assertNames(e, p, "llama.block_count", "");
        }
    }

    @Test
    void headCountsMustFitTheEmbeddingAndTheTensors() throws IOException {
        Path p = patched("llama.attention.head_count", GgufValue.ofUint32(1 << 30));
        assertNames(refused(p), p, "llama.attention.head_count", "1073741824");
        // 8 heads divide n_embd 32 (head dim 4), but then K (2 KV heads x 4) is not blk.0.attn_k.weight's 16 rows.
        p = patched("llama.attention.head_count", GgufValue.ofUint32(8));
        InvalidModelException e = refused(p);
        assertNames(e, p, "llama.attention.head_count_kv", "blk.0.attn_k.weight");
        p = patched("llama.attention.head_count_kv", GgufValue.ofUint32(3));
        assertNames(refused(p), p, "llama.attention.head_count_kv", "3");
        p = patched("llama.attention.key_length", GgufValue.ofUint32(1 << 24));
        assertNames(refused(p), p, "llama.attention.head_count", "blk.0.attn_q.weight");
    }

    @Test
    void dimensionsMustMatchTheTensorShapes() throws IOException {
        Path p = patched("llama.feed_forward_length", GgufValue.ofUint32(Integer.MAX_VALUE));
        assertNames(refused(p), p, "llama.feed_forward_length", "2147483647");
        p = patched("llama.embedding_length", GgufValue.ofUint32(1 << 30));
        InvalidModelException e = refused(p);
        assertNames(e, p, "llama.embedding_length", "1073741824");
        assertTrue(e.getMessage().contains("token_embd.weight"), e.getMessage());
    }

    /** The training context sizes nothing when the configuration is read: a huge one is kept as it is. */
    @Test
    void aHugeTrainingContextIsKept() throws IOException {
        try (GgufFile f = GgufFile.open(patched("llama.context_length", GgufValue.ofUint32(Integer.MAX_VALUE)))) {
            assertEquals(Integer.MAX_VALUE, LlamaConfig.from(f).contextLength());
        }
    }

    /** Text quoted from the file is escaped: it cannot clear the screen or start a line. */
    @Test
    void metadataQuotedInErrorsIsEscaped() throws IOException {
        Path p = patched("general.architecture", GgufValue.ofString("\u001b[2Jgpt\nspillway: ok\u009b"));
        InvalidModelException e = refused(p);
        assertFalse(e.getMessage().chars().anyMatch(c -> c < 0x20 || (c >= 0x7f && c <= 0x9f)), e.getMessage());
        assertTrue(e.getMessage().contains("architecture '\\x1b[2Jgpt\\nspillway: ok\\u009b'"), e.getMessage());

        Path q = patched("llama.block_count\u001b[31m", GgufValue.ofString("x"));
        try (GgufFile f = GgufFile.open(q)) {
            GgufFormatException fe = assertThrows(GgufFormatException.class, () -> f.getInt("llama.block_count\u001b[31m", 0));
            assertTrue(fe.getMessage().contains("'llama.block_count\\x1b[31m'") && fe.getMessage().indexOf('\u001b') < 0,
                    fe.getMessage());
        }
    }
}
