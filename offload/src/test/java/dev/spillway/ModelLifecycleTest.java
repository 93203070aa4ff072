package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.GenerationResult;
import dev.spillway.api.MemoryInfo;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.api.StopReason;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.gguf.GgufWriter;
import dev.spillway.engine.gguf.MappedFileChangedException;
import dev.spillway.engine.model.InvalidModelException;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Contexts sharing a model, clearing, memory accounting, and what happens on bad input. */
class ModelLifecycleTest {
    @TempDir
    static Path dir;

    static Path file;
    static final SyntheticLlama.Spec SPEC = TestModels.tiny(GgmlType.Q8_0);

    @BeforeAll
    static void writeModel() throws Exception {
        file = TestModels.write(SPEC, dir);
    }

    private static ContextParams greedy(int nCtx) {
        return ContextParams.defaults().withContextSize(nCtx).withSampling(SamplingParams.greedy());
    }

    @Test
    void contextsSharingAModelKeepTheirOwnState() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(2))) {
            GenerationResult alone;
            try (Context ctx = model.newContext(greedy(64))) {
                ctx.evaluate(ctx.tokenize("hello"));
                alone = ctx.generate(" world", 12);
            }
            try (Context a = model.newContext(greedy(64)); Context b = model.newContext(greedy(64))) {
                // Interleave: b works on a different prompt between a's calls.
                a.evaluate(a.tokenize("hello"));
                b.generate("something else entirely", 5);
                GenerationResult continued = a.generate(" world", 12);
                assertArrayEquals(alone.tokens(), continued.tokens(), "a's continuation must not see b's tokens");
            }
        }
    }

    @Test
    void clearStartsOverWithoutReallocating() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(64))) {
            GenerationResult first = ctx.generate("abc", 10);
            assertTrue(ctx.position() > 0);
            Backend cpu = model.backends().get(0);
            long allocated = cpu.allocatedBytes();
            ctx.clear();
            assertEquals(0, ctx.position());
            assertEquals(allocated, cpu.allocatedBytes(), "clear must not allocate or free");
            GenerationResult again = ctx.generate("abc", 10);
            assertArrayEquals(first.tokens(), again.tokens());
            assertEquals(first.text(), again.text());
        }
    }

    @Test
    void seededSamplingRepeatsAfterClear() throws Exception {
        SamplingParams seeded = SamplingParams.defaults(7).withTemperature(1.0f);
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(ContextParams.defaults().withContextSize(96).withSampling(seeded));
             Context other = model.newContext(ContextParams.defaults().withContextSize(96).withSampling(seeded))) {
            GenerationResult first = ctx.generate("abc", 12);
            ctx.generate(" more", 12);
            ctx.clear();
            assertArrayEquals(first.tokens(), ctx.generate("abc", 12).tokens(), "clear restarts the sampler from its seed");
            assertArrayEquals(first.tokens(), other.generate("abc", 12).tokens(), "same seed, same text in another context");
        }
    }

    @Test
    void memoryInfoAddsUp() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1).withRepack(false));
             Context ctx = model.newContext(greedy(96).withKeyType(GgmlType.Q8_0).withValueType(GgmlType.F16))) {
            ctx.generate("memory", 3);
            MemoryInfo info = ctx.memoryInfo();
            int kvDim = SPEC.kvHeadCount() * SPEC.embeddingDim() / SPEC.headCount();
            assertEquals(SPEC.layerCount() * KvCache.bytesFor(96, kvDim, GgmlType.Q8_0, GgmlType.F16), info.kvCacheBytes());
            assertEquals(96, info.contextSize());
            assertEquals(ctx.position(), info.tokensUsed());
            long tensorBytes = model.file().tensors().stream().mapToLong(t -> t.byteSize()).sum();
            assertEquals(tensorBytes, info.modelBytes());
            assertEquals(0, info.allocatedWeightBytes(), "CPU weights are zero-copy views of the mapping (--no-repack)");
            MemoryInfo.Pool host = info.pool("host");
            assertEquals(info.kvCacheBytes(), host.kvCacheBytes(), "every layer is on the cpu");
            assertEquals(host.weightBytes() + host.kvCacheBytes() + host.activationBytes(), host.totalBytes());
            assertTrue(host.usedBytes() >= host.totalBytes(), "the host budget counts at least this context");
            assertEquals(host.budgetBytes() - host.usedBytes(), host.freeBytes());
        }
    }

    @Test
    void closingTheModelClosesItsContextsAndFreesEverything() throws Exception {
        Model model = Model.load(file, ModelParams.defaults().withThreads(1));
        Backend cpu = model.backends().get(0);
        long base = cpu.allocatedBytes();
        Context ctx = model.newContext(greedy(64));
        assertTrue(cpu.allocatedBytes() > base);
        Context other = model.newContext(greedy(32));
        other.close();
        model.close();
        assertThrows(IllegalStateException.class, () -> ctx.generate("x", 1));
        assertThrows(IllegalStateException.class, () -> model.newContext(greedy(8)));
        assertEquals(0, cpu.allocatedBytes(), "all contexts freed");
    }

    @Test
    void promptThatDoesNotFitIsRejectedClearly() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(8))) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> ctx.generate("a rather long prompt that cannot possibly fit in eight positions", 1));
            assertTrue(e.getMessage().contains("do not fit"), e.getMessage());
            assertEquals(0, ctx.position(), "nothing was evaluated");
        }
    }

    @Test
    void generationStopsWhenTheContextIsFull() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(16))) {
            GenerationResult r = ctx.generate("ab", 100);
            assertEquals(dev.spillway.api.StopReason.CONTEXT_FULL, r.stopReason());
            assertEquals(16, ctx.position());
        }
    }

    /** maxCacheTokens allocates only that many rows, and generation stops there with its own reason. */
    @Test
    void generationStopsCleanlyAtTheCacheCap() throws Exception {
        ContextParams capped = ContextParams.defaults().withContextSize(96).withMaxCacheTokens(20)
                .withSampling(SamplingParams.greedy());
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(capped)) {
            int kvDim = SPEC.kvHeadCount() * SPEC.embeddingDim() / SPEC.headCount();
            assertEquals(SPEC.layerCount() * KvCache.bytesFor(20, kvDim, GgmlType.F16, GgmlType.F16), ctx.memoryInfo().kvCacheBytes());
            GenerationResult r = ctx.generate("hello", 1000);
            assertEquals(StopReason.CACHE_LIMIT, r.stopReason());
            assertEquals(20, ctx.position());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ctx.evaluate(new int[] {5}));
            assertTrue(e.getMessage().contains("capped at 20"), e.getMessage());
        }
    }

    /** --no-mmap: a copy that does not fit the host budget is refused before it is read; one that fits is counted once. */
    @Test
    void aFileCopyIsCheckedAgainstTheHostBudgetBeforeItIsRead() throws Exception {
        long size = Files.size(file);
        ModelParams copy = ModelParams.defaults().withThreads(1).withMmap(false).withRepack(false);
        dev.spillway.api.MemoryLimitException e = assertThrows(dev.spillway.api.MemoryLimitException.class,
                () -> Model.load(file, copy.withMaxMemory(size / 2)));
        assertEquals("host", e.backend());
        assertEquals(size, e.requestedBytes());
        assertTrue(e.getMessage().contains("--no-mmap"), e.getMessage());
        try (Model model = Model.load(file, copy.withMaxMemory(64L << 20))) {
            assertEquals(size, model.plan().host().estimate().weightBytes(), "the plan counts the copy as host weights");
            assertEquals(size, model.memoryInfo().pool("host").usedBytes(), "and the budget counts it once");
        }
    }

    /**
     * Repacking (the default): the plan counts the CPU's packed copies as host weights, the
     * same bytes the host budget then holds for them (the stories260K Q4_0 copy: q, k, v, o and the
     * output head pack; gate and up have 172 rows, not whole groups, and stay views); with
     * --no-repack both are zero.
     */
    @Test
    void packedCopiesAreCountedInThePlanAndTheHostBudget(@TempDir Path tmp) throws Exception {
        Path q4 = TestModels.stories260K(GgmlType.Q4_0, tmp);
        long packable = 0;
        try (dev.spillway.engine.gguf.GgufFile f = dev.spillway.engine.gguf.GgufFile.open(q4)) {
            for (var t : f.tensors()) {
                boolean loaded = !t.name().equals("token_embd.weight");   // looked up in the file, not multiplied
                long rows = t.dims() < 2 ? 1 : t.shape()[1];
                packable += loaded && dev.spillway.cpu.kernel.RowGroups.packable(t.type(), rows, t.shape()[0]) ? t.byteSize() : 0;
            }
        }
        assertTrue(packable > 0);
        ModelParams params = ModelParams.defaults().withThreads(1).withGpuLayers(0);
        try (Model model = Model.load(q4, params)) {
            assertEquals(packable, model.plan().host().estimate().weightBytes(), "the plan");
            assertEquals(packable, model.memoryInfo().pool("host").weightBytes(), "what the host holds");
        }
        try (Model model = Model.load(q4, params.withRepack(false))) {
            assertEquals(0, model.plan().host().estimate().weightBytes());
            assertEquals(0, model.memoryInfo().pool("host").weightBytes());
        }
        try (Model model = Model.load(q4, params.withMmap(false))) {   // the file's copy, and the packed copies made from it
            assertEquals(Files.size(q4) + packable, model.plan().host().estimate().weightBytes());
            assertEquals(packable, model.memoryInfo().pool("host").weightBytes());
        }
    }

    @Test
    void tokenIdsOutsideTheVocabularyAreRejected() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(16).withBatchSize(2))) {
            // The bad id sits in the second batch: nothing of the first may be evaluated either.
            var e = assertThrows(IllegalArgumentException.class, () -> ctx.evaluate(new int[] {1, 5, 6, SPEC.vocabSize()}));
            assertTrue(e.getMessage().contains("outside the vocabulary") && e.getMessage().contains("index 3"), e.getMessage());
            assertEquals(0, ctx.position());
            assertThrows(IllegalArgumentException.class, () -> ctx.evaluate(new int[] {-1}));
            assertEquals(0, ctx.position());
        }
    }

    @Test
    void missingFileAndWrongArchitectureGiveClearErrors() throws Exception {
        assertThrows(NoSuchFileException.class, () -> Model.load(dir.resolve("absent.gguf"), ModelParams.defaults()));
        Path gpt = dir.resolve("gpt.gguf");
        new GgufWriter().putString("general.architecture", "gpt2").write(gpt);
        var e = assertThrows(InvalidModelException.class, () -> Model.load(gpt, ModelParams.defaults()));
        assertTrue(e.getMessage().contains("gpt2") && e.getMessage().contains("gpt.gguf"), e.getMessage());
    }

    @Test
    void readingIntoMemoryGivesTheSameResultAsMapping() throws Exception {
        int[] mapped;
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(32))) {
            mapped = ctx.generate("same", 8).tokens();
        }
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1).withMmap(false));
             Context ctx = model.newContext(greedy(32))) {
            assertArrayEquals(mapped, ctx.generate("same", 8).tokens());
        }
    }

    /** maxTokens used to size an int[maxTokens] up front: Integer.MAX_VALUE was an OutOfMemoryError. */
    @Test
    void aHugeTokenLimitGeneratesUntilTheContextIsFull() throws Exception {
        try (Model model = Model.load(file, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(16))) {
            GenerationResult r = ctx.generate("ab", Integer.MAX_VALUE);
            assertNotEquals(StopReason.MAX_TOKENS, r.stopReason());
            assertTrue(r.tokens().length <= 16 - r.promptTokens() + 1, "tokens: " + r.tokens().length);
            if (r.stopReason() == StopReason.CONTEXT_FULL) {
                assertEquals(16, ctx.position());
                assertEquals(16 - r.promptTokens() + 1, r.tokens().length, "every free position and the last sample");
            }
            // Continuing a full context with a huge limit is no allocation problem either.
            ctx.clear();
            ctx.evaluate(ctx.tokenize("abc"));
            assertNotEquals(StopReason.MAX_TOKENS, ctx.generate("", Integer.MAX_VALUE).stopReason());
        }
    }

    /**
     * Truncating a mapped file makes reads of its lost pages fault (SIGBUS), which the JVM reports as
     * {@code InternalError: a fault occurred in an unsafe memory access}; the context names the file instead.
     */
    @Test
    void aModelFileTruncatedWhileMappedIsReportedByName() throws Exception {
        Path copy = dir.resolve("shrinking.gguf");
        Files.copy(file, copy);
        try (Model model = Model.load(copy, ModelParams.defaults().withThreads(1));
             Context ctx = model.newContext(greedy(32))) {
            assertTrue(model.file().memoryMapped());
            ctx.evaluate(ctx.tokenize("before"));   // the mapping works
            try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                ch.truncate(4096);   // inside the metadata: every weight's pages are gone
            }
            var e = assertThrows(MappedFileChangedException.class, () -> ctx.generate(" after", 4));
            assertTrue(e.getMessage().contains(copy.toString()) && e.getMessage().contains("truncated while mapped"),
                    e.getMessage());
            assertEquals(copy, e.path());
            assertInstanceOf(InternalError.class, e.getCause(), "the JVM's fault is kept as the cause");
        }
    }
}
