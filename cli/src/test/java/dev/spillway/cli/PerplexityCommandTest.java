package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spillway perplexity} and {@code spillway quantize} end to end (the figures: offload's PerplexityTest). */
class PerplexityCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsLlamaCppsProgressAndFinalEstimate() throws Exception {
        String model = TestModels.stories260K().toString();
        Path text = TestModels.storyFile(dir);
        CliTest.Run r = CliTest.run("perplexity", model, "-f", text.toString(), "-c", "128", "-b", "128",
                "-ctk", "f32", "-ctv", "f32", "-t", "2", "-ngl", "0");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(2, lines.length, r.out());
        assertTrue(lines[0].startsWith("[1]3.694") && lines[0].endsWith("[21]5.1536,"), lines[0]);
        assertEquals("Final estimate: PPL = 5.1536 +/- 0.27585", lines[1]);
        assertTrue(r.err().contains("21 chunks of n_ctx=128"), r.err());
    }

    @Test
    void usageAndRuntimeErrors() throws Exception {
        String model = TestModels.stories260K().toString();
        Path text = TestModels.storyFile(dir);
        CliTest.Run noFile = CliTest.run("perplexity", model, "-c", "128");
        assertEquals(2, noFile.code(), noFile.err());
        assertTrue(noFile.err().contains("--file"), noFile.err());
        CliTest.Run noModel = CliTest.run("perplexity", "-f", text.toString());
        assertEquals(2, noModel.code(), noModel.err());
        CliTest.Run badBatch = CliTest.run("perplexity", model, "-f", text.toString(), "-b", "0");
        assertEquals(2, badBatch.code(), badBatch.err());
        Path shortText = Files.writeString(dir.resolve("short.txt"), "Once upon a time there was a cat.");
        CliTest.Run tooShort = CliTest.run("perplexity", model, "-f", shortText.toString(), "-c", "128", "-ngl", "0");
        assertEquals(1, tooShort.code(), tooShort.err());
        assertEquals(1, tooShort.err().lines().filter(l -> l.startsWith("spillway: error: ")).count(), tooShort.err());
        assertTrue(tooShort.err().contains("needs at least 256"), tooShort.err());
        CliTest.Run missing = CliTest.run("perplexity", model, "-f", dir.resolve("nope.txt").toString());
        assertEquals(1, missing.code(), missing.err());
        assertTrue(missing.err().contains("no such file"), missing.err());
    }

    @Test
    void quantizeWritesALoadableCopy() throws Exception {
        String model = TestModels.stories260K().toString();
        Path out = dir.resolve("q4.gguf");
        CliTest.Run r = CliTest.run("quantize", model, out.toString(), "q4_0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("32 tensors in Q4_0"), r.out());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(GgmlType.Q4_0, f.findTensor("blk.0.attn_q.weight").orElseThrow().type());
            assertEquals(GgmlType.F32, f.findTensor("blk.0.ffn_down.weight").orElseThrow().type(), "rows of 172: not whole blocks");
            assertEquals(2, f.getInt("general.file_type", -1), "LLAMA_FTYPE_MOSTLY_Q4_0");
        }
        Path text = TestModels.storyFile(dir);
        CliTest.Run ppl = CliTest.run("perplexity", out.toString(), "-f", text.toString(), "-c", "128", "-ctk", "f32",
                "-ctv", "f32", "-t", "2", "-ngl", "0");
        assertEquals(0, ppl.code(), ppl.err());
        assertTrue(ppl.out().contains("Final estimate: PPL = 5.6"), ppl.out());

        assertEquals(2, CliTest.run("quantize", model, out.toString(), "q9_9").code(), "unknown type");
        assertEquals(2, CliTest.run("quantize", model, model, "q8_0").code(), "same file");
        assertEquals(1, CliTest.run("quantize", dir.resolve("absent.gguf").toString(), out.toString(), "q8_0").code());
    }
}
