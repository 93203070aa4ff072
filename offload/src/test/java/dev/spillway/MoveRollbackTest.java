package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.MemoryLimitException;
import dev.spillway.api.Model;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.memory.MemoryMonitor;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.model.Workspace;
import dev.spillway.engine.testing.TestModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link LlamaModel#moveToBackend} allocates everything new before it frees anything old: when the
 * target runs out part-way (here the second of two layers' KV caches), the model is as it was, the
 * target holds nothing, and the open context generates on as if nothing had been tried.
 */
class MoveRollbackTest {
    static final ContextParams CTX = SchedulerTesting.greedyContext(128);

    @Test
    void aMoveThatRunsOutLeavesTheModelAsItWas() throws Exception {
        Path stories = TestModels.stories260K();
        String reference;
        try (Model cpu = Model.load(stories, SchedulerTesting.cpuOnly(CTX)); Context ref = cpu.newContext(CTX)) {
            reference = ref.generate("Once upon a time", 8).text() + ref.generate("", 8).text() + ref.generate("", 8).text();
        }
        try (GgufFile file = GgufFile.open(stories)) {
            LlamaConfig config = LlamaConfig.from(file);
            Workspace.Shape shape = Context.shapeFor(config.contextLength(), CTX);
            long kv = CpuBackend.SIZING.kvBytes(shape.contextSize(), config.kvDim(), shape.keyType(), shape.valueType());
            long buffers = Workspace.estimate(CpuBackend.SIZING, config, shape, 1, false).activationBytes();
            // Room for one layer's cache and the batch buffers, not for two caches.
            MemoryAccount small = new MemoryMonitor().open("small", (long) ((buffers + kv + kv / 2) / (MemoryAccount.REFUSE_PERCENT / 100.0)));
            try (CpuBackend a = new CpuBackend(new CpuBackend.Options(1)); CpuBackend b = new CpuBackend(new CpuBackend.Options(1, small))) {
                LlamaModel m = LlamaModel.load(file, config, Placement.allOn(a, config.layerCount()), LlamaWeights.Progress.NONE);
                try (Context c = new Context(m, CTX, () -> { })) {
                    String first = c.generate("Once upon a time", 8).text();
                    Placement before = m.placement();
                    assertThrows(MemoryLimitException.class, () -> m.moveToBackend(List.of(0, 1), false, b));
                    assertEquals(before, m.placement());
                    assertEquals(0, b.allocatedBytes(), "the target holds nothing");
                    assertEquals(0, small.usedBytes());
                    String second = c.generate("", 8).text();
                    // One layer does fit: it moves, and the text goes on unchanged.
                    Placement after = m.moveToBackend(List.of(0), false, b);
                    assertSame(b, after.layer(0));
                    assertEquals(kv + buffers, b.allocatedBytes(), "one cache and the batch buffers, before any op ran there");
                    String third = c.generate("", 8).text();
                    assertEquals(reference, first + second + third);
                } finally {
                    m.closeWeights();
                }
            }
        }
    }
}
