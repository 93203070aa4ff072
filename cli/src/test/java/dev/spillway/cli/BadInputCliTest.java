package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.cli.CliTest.Run;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.gguf.GgufWriter;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input of every kind ends in one line, {@code spillway: error: ...} naming what and where, with
 * exit status 1 (runtime) or 2 (usage): no stack trace, no hang, no JVM error.
 */
class BadInputCliTest {
    @TempDir
    Path dir;

    /** Exactly one line on stderr, the error, naming every one of {@code names}. */
    private static void assertOneErrorLine(Run r, int code, String... names) {
        assertEquals(code, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("spillway: error: "), r.err());
        for (String name : names) {
            assertTrue(r.err().contains(name), name + " in: " + r.err());
        }
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), "no stack trace: " + r.err());
    }

    @Test
    void aDirectoryIsNotAModel() throws IOException {
        Path models = Files.createDirectory(dir.resolve("models"));
        assertOneErrorLine(CliTest.run("run", models.toString(), "hi"), 1, models + ": is a directory, not a GGUF file");
        assertOneErrorLine(CliTest.run("info", models.toString()), 1, models + ": is a directory");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aFifoIsRefusedWithoutBlocking() throws Exception {
        Path fifo = TestModels.fifo(dir.resolve("pipe.gguf"));
        assertOneErrorLine(CliTest.run("run", fifo.toString(), "hi"), 1, fifo + ": is not a regular file");
        assertOneErrorLine(CliTest.run("info", fifo.toString()), 1, fifo + ": is not a regular file");
    }

    @Test
    void extraArgumentsAreAUsageError() {
        Run r = CliTest.run("run", TestModels.stories260K().toString(), "a", "b");
        assertOneErrorLine(r, 2, "unexpected argument 'b'");
        assertEquals("", r.out(), "nothing ran");
        assertOneErrorLine(CliTest.run("run", "x.gguf", "a", "b", "c"), 2, "unexpected argument 'b'");
    }

    @Test
    void theLargestTokenLimitRunsUntilTheContextIsFull() {
        Run r = CliTest.run("run", TestModels.stories260K().toString(), "Once upon a time", "-n", "2147483647",
                "-c", "24", "--temp", "0", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time, there was"), r.out());
        assertTrue(r.err().contains("stopped: context full"), r.err());
    }

    @Test
    void absurdCountsInTheFileAreRuntimeErrorsNamingTheKey() throws IOException {
        Path model = TestModels.stories260K();
        Path huge = TestModels.withMetadata(model, dir.resolve("huge.gguf"),
                Map.of("llama.block_count", GgufValue.ofUint32(Integer.MAX_VALUE)));
        assertOneErrorLine(CliTest.run("run", huge.toString(), "hi", "-t", "1"), 1, "huge.gguf",
                "llama.block_count is 2147483647", "5 layer(s)");
        Run info = CliTest.run("info", huge.toString());
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("not runnable by Spillway: huge.gguf: llama.block_count is 2147483647"), info.out());

        Path heads = TestModels.withMetadata(model, dir.resolve("heads.gguf"),
                Map.of("llama.attention.head_count", GgufValue.ofUint32(1 << 30)));
        assertOneErrorLine(CliTest.run("run", heads.toString(), "hi", "-t", "1"), 1, "heads.gguf",
                "llama.attention.head_count 1073741824");
    }

    private static final java.util.Set<String> PLAN_FLAGS = java.util.Set.of("-c", "-b", "-t", "-ngl", "-ts", "--fit-target",
            "--max-memory", "--device", "-np", "--max-cache-tokens");

    @Test
    void everyBadFlagValueIsAUsageError() {
        String model = TestModels.stories260K().toString();
        List<List<String>> cases = List.of(
                List.of("-c", "-5", "context size"),
                List.of("-b", "0", "batch size"),
                List.of("--temp", "-1", "temperature"),
                List.of("--top-p", "2", "top_p"),
                List.of("-t", "-3", "threads"),
                List.of("--repeat-penalty", "-1", "repeat_penalty"),
                List.of("--top-k", "-2", "top_k"),
                List.of("--min-p", "2", "min_p"),
                List.of("-ngl", "-2", "gpu layers"),
                List.of("-ngl", "foo", "gpu layers"),
                List.of("-ts", "-1", "tensor split"),
                List.of("-ts", "3,x", "tensor split"),
                List.of("-ts", "0,0", "tensor split"),
                List.of("--fit-target", "lots", "invalid size"),
                List.of("--max-memory", "1Q", "invalid size"),
                List.of("--device", "opencl:0,opencl:0", "named twice"),
                List.of("-np", "0", "parallel"),
                List.of("--max-cache-tokens", "-4", "maxCacheTokens"),
                List.of("-n", "-2", "-n/--n-predict"));
        for (List<String> c : cases) {
            Run r = CliTest.run("run", model, "hi", c.get(0), c.get(1));
            assertOneErrorLine(r, 2, c.get(2), c.get(1));
            assertEquals("", r.out(), c + ": nothing ran");
            // plan shares the model and context flags (not the sampling ones or -n)
            if (PLAN_FLAGS.contains(c.get(0))) {
                assertOneErrorLine(CliTest.run("plan", model, c.get(0), c.get(1)), 2, c.get(2), c.get(1));
            }
        }
        assertOneErrorLine(CliTest.run("bench", model, "-t", "-3"), 2, "threads", "-3");
        assertOneErrorLine(CliTest.run("devices", "-t", "-3"), 2, "threads", "-3");
    }

    /** The prompt is echoed without a newline; an error while generating must still start its own line. */
    @Test
    void anErrorAfterTheEchoedPromptStartsOnANewLine() {
        Run r = CliTest.run("run", TestModels.stories260K().toString(), "Once upon a time there was a cat", "-c", "4",
                "-t", "1");
        assertOneErrorLine(r, 1, "do not fit", "the context holds 4");
        assertEquals("Once upon a time there was a cat" + System.lineSeparator(), r.out());
    }

    @Test
    void metadataCannotWriteTerminalEscapes() throws IOException {
        String evil = "\u001b[2J\nspillway: fake line\u009b";
        Path file = dir.resolve("evil.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama" + evil)
                .putString("evil.key" + evil, "value" + evil)
                .addTensor("tensor" + evil, GgmlType.F32, new long[] {4}, new float[] {1, 2, 3, 4})
                .write(file);
        Run r = CliTest.run("info", file.toString());
        assertEquals(0, r.code(), r.err());
        String escaped = "\\x1b[2J\\nspillway: fake line\\u009b";
        assertFalse(r.out().chars().anyMatch(BadInputCliTest::isControl), "no raw control characters:\n" + r.out());
        assertTrue(r.out().contains("evil.key" + escaped), r.out());
        assertTrue(r.out().contains("\"value" + escaped + "\""), r.out());
        assertTrue(r.out().contains("tensor" + escaped), r.out());
        assertTrue(r.out().contains("architecture 'llama" + escaped + "' is not supported"), r.out());

        r = CliTest.run("run", file.toString(), "hi");
        assertOneErrorLine(r, 1, "evil.gguf", "'llama" + escaped + "'");
        assertFalse(r.err().chars().anyMatch(c -> c != '\n' && isControl(c)), r.err());
    }

    private static boolean isControl(int c) {
        return (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f);
    }

    /**
     * A model file truncated while mapped faults on the next read of a lost page (SIGBUS); the JVM's
     * InternalError becomes one line naming the file, after the text generated so far.
     */
    @Test
    void aModelFileTruncatedWhileGeneratingIsOneLine() throws IOException {
        Path copy = Files.copy(TestModels.stories260K(), dir.resolve("shrinking.gguf"));
        String prompt = "Once upon a time";
        StringWriter text = new StringWriter();
        // Truncates the file as soon as the first generated piece is printed after the echoed prompt.
        PrintWriter out = new PrintWriter(new java.io.Writer() {
            private boolean truncated;

            @Override
            public void write(char[] buf, int off, int len) {
                text.write(buf, off, len);
                if (!truncated && text.getBuffer().length() > prompt.length()) {
                    truncated = true;
                    try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                        ch.truncate(4096);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        }, true);
        StringWriter err = new StringWriter();
        int code = Main.execute(new String[] {"run", copy.toString(), prompt, "-n", "16", "--temp", "0", "-t", "1"},
                out, new PrintWriter(err, true));
        Run r = new Run(code, text.toString(), err.toString());
        assertOneErrorLine(r, 1, "model file " + copy + " changed or was truncated while mapped");
        assertTrue(r.out().startsWith(prompt + ",") && r.out().endsWith(System.lineSeparator()), r.out());
    }

    @Test
    void aMappingFaultFromAnywhereIsDescribedInOneLine() {
        assertEquals("the model file changed or was truncated while mapped (reading it faulted)",
                Errors.describe(new InternalError("a fault occurred in an unsafe memory access operation")));
    }
}
