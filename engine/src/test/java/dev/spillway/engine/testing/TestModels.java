package dev.spillway.engine.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufTensorInfo;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.gguf.GgufWriter;
import dev.spillway.engine.model.ModelQuantizer;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Locates the shared test models and writes small synthetic ones. */
public final class TestModels {
    private TestModels() {
    }

    /** The folder of shared test models: system property {@code spillway.test.models}, else ../shared/models. */
    public static Path sharedModels() {
        String prop = System.getProperty("spillway.test.models");
        return prop != null ? Path.of(prop) : Path.of("..", "shared", "models");
    }

    /**
     * The real stories260K model; the calling test is skipped (not failed) with a clear message when
     * it is absent.
     */
    public static Path stories260K() {
        Path p = sharedModels().resolve("stories260K.gguf").toAbsolutePath().normalize();
        assumeTrue(Files.isRegularFile(p), "test model not found at " + p + ": skipping (see ../shared/models/README.md)");
        return p;
    }

    /**
     * A small llama with every 2-D weight in {@code type}: 2 layers, n_embd 256 (a whole K-quant
     * block), n_ff 512, 4 heads of 64 with 2 KV heads (grouped-query attention), vocab 300.
     */
    public static SyntheticLlama.Spec tiny(GgmlType type) {
        return new SyntheticLlama.Spec(256, 2, 512, 4, 2, 300, 128, type, false, 11);
    }

    /** Writes {@code spec} into {@code dir} and returns the file. */
    public static Path write(SyntheticLlama.Spec spec, Path dir) throws IOException {
        Path p = dir.resolve(spec.fileName());
        SyntheticLlama.write(spec, p);
        return p;
    }

    /**
     * Copies the GGUF file {@code src} to {@code dst} through the writer with some metadata changed:
     * each entry of {@code changes} replaces (or adds) a value, or removes the key when the value is
     * null. Tensors are copied as they are. For files with one absurd or hostile value.
     */
    public static Path withMetadata(Path src, Path dst, Map<String, GgufValue> changes) throws IOException {
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter().alignment((int) f.alignment());
            f.metadata().forEach((k, v) -> {
                if (!changes.containsKey(k)) {
                    w.put(k, v);
                }
            });
            changes.forEach((k, v) -> {
                if (v != null) {
                    w.put(k, v);
                }
            });
            for (GgufTensorInfo t : f.tensors()) {
                w.addRawTensor(t.name(), t.type(), t.shape(), f.view(t).data());
            }
            w.write(dst);
        }
        return dst;
    }

    /**
     * Makes a FIFO (named pipe) at {@code path} with {@code mkfifo}; the calling test is skipped when
     * that is not possible here.
     */
    public static Path fifo(Path path) throws InterruptedException {
        int rc;
        try {
            rc = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor();
        } catch (IOException e) {
            rc = -1;
        }
        assumeTrue(rc == 0 && Files.exists(path), "mkfifo is not available here: skipping");
        return path;
    }

    /**
     * A children's story in plain English written for the perplexity tests (about 2,700 tokens for
     * stories260K's tokenizer): the text of {@code story.txt} beside this class.
     */
    public static String story() {
        try (var in = TestModels.class.getResourceAsStream("story.txt")) {
            if (in == null) {
                throw new IllegalStateException("story.txt is missing from the engine's test resources");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Writes {@link #story()} to {@code dir}/story.txt and returns the file. */
    public static Path storyFile(Path dir) throws IOException {
        return Files.writeString(dir.resolve("story.txt"), story());
    }

    /**
     * A copy of stories260K (skipping the calling test when it is absent) in {@code dir} with its
     * matrices in {@code type} ({@link ModelQuantizer}: rows that are not whole blocks, and norms,
     * stay F32). For quality checks of quantized weights.
     */
    public static Path stories260K(GgmlType type, Path dir) throws IOException {
        Path out = dir.resolve("stories260K-" + type.name().toLowerCase(java.util.Locale.ROOT) + ".gguf");
        ModelQuantizer.quantize(stories260K(), out, type);
        return out;
    }
}
