package dev.spillway.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads the real stories260K model. Expectations come from the README beside it: GGUF v3, all
 * tensors F32, llama with 5 layers, n_embd 64, n_ff 172, 8 heads, 4 KV heads (head_dim 8), vocab 512.
 */
class GgufStoriesTest {
    private static final int N_EMBD = 64;
    private static final int N_FF = 172;
    private static final int N_LAYER = 5;
    private static final int N_VOCAB = 512;
    private static final int KV_DIM = 4 * 8;
    /** Per layer: attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down. */
    private static final int TENSORS_PER_LAYER = 9;

    private Path model;

    @TempDir
    Path dir;

    @BeforeEach
    void findModel() {
        String folder = System.getProperty("spillway.test.models", "../shared/models");
        model = Path.of(folder, "stories260K.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(model),
                "stories260K.gguf not found at " + model.toAbsolutePath() + " (set -Dspillway.test.models); skipping");
    }

    @Test
    void headerMetadataAndShapesMatchTheModelCard() throws IOException {
        try (GgufFile f = GgufFile.open(model)) {
            assertEquals(3, f.version());
            assertEquals("llama", f.requireString("general.architecture"));
            assertEquals(N_LAYER, f.requireInt("llama.block_count"));
            assertEquals(N_EMBD, f.requireInt("llama.embedding_length"));
            assertEquals(N_FF, f.requireInt("llama.feed_forward_length"));
            assertEquals(8, f.requireInt("llama.attention.head_count"));
            assertEquals(4, f.requireInt("llama.attention.head_count_kv"));
            assertEquals(1e-5f, f.requireFloat("llama.attention.layer_norm_rms_epsilon"), 1e-9f);
            assertEquals("llama", f.requireString("tokenizer.ggml.model"));
            GgufArray tokens = f.findArray("tokenizer.ggml.tokens", GgufValueType.STRING).orElseThrow();
            assertEquals(N_VOCAB, tokens.length());
            assertEquals(N_VOCAB, f.findArray("tokenizer.ggml.scores", GgufValueType.FLOAT32).orElseThrow().length());

            assertEquals(3 + N_LAYER * TENSORS_PER_LAYER, f.tensors().size());
            assertTrue(f.tensors().stream().allMatch(t -> t.type() == GgmlType.F32), "all F32");
            assertShape(f, "token_embd.weight", N_EMBD, N_VOCAB);
            assertShape(f, "output.weight", N_EMBD, N_VOCAB);
            assertShape(f, "output_norm.weight", N_EMBD);
            for (int l = 0; l < N_LAYER; l++) {
                assertShape(f, "blk." + l + ".attn_q.weight", N_EMBD, N_EMBD);
                assertShape(f, "blk." + l + ".attn_k.weight", N_EMBD, KV_DIM);
                assertShape(f, "blk." + l + ".attn_v.weight", N_EMBD, KV_DIM);
                assertShape(f, "blk." + l + ".ffn_gate.weight", N_EMBD, N_FF);
                assertShape(f, "blk." + l + ".ffn_down.weight", N_FF, N_EMBD);
                assertShape(f, "blk." + l + ".attn_norm.weight", N_EMBD);
            }

            long total = f.tensors().stream().mapToLong(GgufTensorInfo::byteSize).sum();
            assertEquals(4L * f.tensors().stream().mapToLong(GgufTensorInfo::elementCount).sum(), total);
            assertTrue(f.dataOffset() + total <= f.fileSize(), "data fits the file");
            assertEquals(0, f.dataOffset() % f.alignment());
            List<GgufTensorInfo> byOffset = f.tensors().stream().sorted(Comparator.comparingLong(GgufTensorInfo::offset)).toList();
            for (int i = 1; i < byOffset.size(); i++) {
                assertTrue(byOffset.get(i - 1).offset() + byOffset.get(i - 1).byteSize() <= byOffset.get(i).offset());
            }

            // A trained RMSNorm weight: finite, not all zero.
            TensorView norm = f.tensor("output_norm.weight");
            float[] w = norm.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
            assertEquals(N_EMBD, w.length);
            double sumAbs = 0;
            for (float x : w) {
                assertTrue(Float.isFinite(x));
                sumAbs += Math.abs(x);
            }
            assertTrue(sumAbs > 1, "weights look trained: " + sumAbs);
        }
    }

    private static void assertShape(GgufFile f, String name, long... shape) {
        GgufTensorInfo t = f.findTensor(name).orElseThrow(() -> new AssertionError("missing " + name));
        assertArrayEquals(shape, t.shape(), name);
    }

    @Test
    void inMemoryReadEqualsTheMapping() throws IOException {
        try (GgufFile mapped = GgufFile.open(model); GgufFile read = GgufFile.open(model, GgufFile.Options.IN_MEMORY)) {
            GgufSamples.assertMetadataEquals(mapped.metadata(), read.metadata());
            assertEquals(mapped.tensors(), read.tensors());
            assertEquals(-1, mapped.mapping().mismatch(read.mapping()));
        }
    }

    /** Copying every pair and tensor through the writer reproduces the same metadata and tensor bytes. */
    @Test
    void rewritingTheModelPreservesEverything() throws IOException {
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(model)) {
            GgufWriter w = new GgufWriter().alignment((int) f.alignment());
            f.metadata().forEach(w::put);
            for (GgufTensorInfo t : f.tensors()) {
                w.addRawTensor(t.name(), t.type(), t.shape(), f.view(t).data());
            }
            w.write(copy);
            try (GgufFile c = GgufFile.open(copy)) {
                GgufSamples.assertMetadataEquals(f.metadata(), c.metadata());
                assertEquals(f.tensors().stream().map(GgufTensorInfo::name).toList(),
                        c.tensors().stream().map(GgufTensorInfo::name).toList());
                for (GgufTensorInfo t : f.tensors()) {
                    assertEquals(-1, f.view(t).data().mismatch(c.tensor(t.name()).data()), t.name());
                }
            }
        }
    }
}
