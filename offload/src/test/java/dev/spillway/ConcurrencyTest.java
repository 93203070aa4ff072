package dev.spillway;

import static dev.spillway.SchedulerTesting.greedyContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.MemoryInfo;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Four contexts on one model split between the CPU and PoCL, generating greedily on four threads
 * while a fifth polls {@link Model#memoryInfo()}: each text is the single-threaded one, the memory
 * info is consistent throughout (KV bytes = the contexts' sum, no budget over its size), and closing
 * the contexts brings every budget back to where it was.
 */
class ConcurrencyTest {
    static final ContextParams CTX = greedyContext(128);
    static final List<String> PROMPTS = List.of("Once upon a time", "The little dog", "Lily was happy", "One day");

    static Map<String, Long> used(Model m) {
        Map<String, Long> out = new TreeMap<>();
        for (MemoryAccount a : m.budgets()) {
            out.put(a.name(), a.usedBytes());
        }
        return out;
    }

    @Test
    @Timeout(120)
    void contextsGenerateConcurrentlyAsTheyDoAlone() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        Path stories = TestModels.stories260K();
        ModelParams params = SchedulerTesting.onOpenCl(CTX, 3).withParallel(PROMPTS.size());
        try (Model m = Model.load(stories, params)) {
            assertEquals(3, m.placement().layersOn(SchedulerTesting.device(m)), m.placement().table());
            List<String> alone = new ArrayList<>();
            for (String p : PROMPTS) {
                alone.add(SchedulerTesting.greedy(m, CTX, p, 40));
            }
            Map<String, Long> baseline = used(m);

            List<Context> contexts = new ArrayList<>();
            for (int i = 0; i < PROMPTS.size(); i++) {
                contexts.add(m.newContext(CTX));
            }
            assertTrue(m.spills().isEmpty(), "the planned contexts fit: " + m.spills());
            long kvSum = contexts.stream().mapToLong(c -> c.memoryInfo().kvCacheBytes()).sum();
            assertTrue(kvSum > 0);

            ExecutorService pool = Executors.newFixedThreadPool(PROMPTS.size() + 1);
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<String> inconsistency = new AtomicReference<>();
            AtomicInteger polls = new AtomicInteger();
            try {
                Future<?> poller = pool.submit(() -> {
                    while (!done.get()) {
                        MemoryInfo info = m.memoryInfo();
                        polls.incrementAndGet();
                        if (info.kvCacheBytes() != kvSum) {
                            inconsistency.compareAndSet(null, "KV bytes " + info.kvCacheBytes() + " != " + kvSum);
                        }
                        for (MemoryInfo.Pool p : info.pools()) {
                            if (p.usedBytes() > p.budgetBytes() || p.totalBytes() > p.usedBytes()) {
                                inconsistency.compareAndSet(null, "pool " + p);
                            }
                        }
                        Thread.onSpinWait();
                    }
                });
                List<Future<String>> texts = new ArrayList<>();
                for (int i = 0; i < PROMPTS.size(); i++) {
                    Context c = contexts.get(i);
                    String p = PROMPTS.get(i);
                    texts.add(pool.submit(() -> c.generate(p, 40).text()));
                }
                List<String> together = new ArrayList<>();
                for (Future<String> f : texts) {
                    together.add(f.get(90, TimeUnit.SECONDS));
                }
                done.set(true);
                poller.get(10, TimeUnit.SECONDS);
                assertEquals(alone, together, "concurrent texts vs one at a time");
            } finally {
                done.set(true);
                pool.shutdownNow();
            }
            assertTrue(polls.get() > 0);
            assertEquals(null, inconsistency.get());
            contexts.forEach(Context::close);
            assertEquals(baseline, used(m), "every budget back to its baseline after the contexts closed");
            assertEquals(0, m.memoryInfo().kvCacheBytes());
        }
    }
}
