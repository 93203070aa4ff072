package dev.spillway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.Devices;
import dev.spillway.offload.schedule.LayerPlan;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planner on a hypothetical device ({@code --device-memory} with no device present): what auto
 * chooses, when it shrinks the context, and how the estimate adds up.
 */
class PlannerTest {
    @TempDir
    static Path dir;
    static Path file;
    static final Devices NONE = new Devices(List.of());
    /** 4 layers, a training context of 8192 tokens, so that the default context (4096) can shrink. */
    static final SyntheticLlama.Spec SPEC = new SyntheticLlama.Spec(256, 4, 512, 4, 2, 300, 8192, GgmlType.Q8_0, false, 5);

    @BeforeAll
    static void write() throws Exception {
        file = TestModels.write(SPEC, dir);
    }

    static ModelParams onDevice(long bytes) {
        return ModelParams.defaults().withThreads(1).withDeviceMemoryLimit(bytes).withMargin(0);
    }

    static long estimate(ModelParams params) throws Exception {
        return Model.plan(file, params, NONE).devices().get(0).estimatedBytes();
    }

    /** A device too small for every layer with the default context, but big enough with a quarter of it. */
    @Test
    void autoShrinksAContextItChoseAndSaysSo() throws Exception {
        ModelParams all = onDevice(1L << 40).withGpuLayers(ModelParams.ALL_LAYERS);
        long full = estimate(all);
        long quarter = estimate(all.withPlannedContext(ContextParams.defaults().withContextSize(1024)));
        assertTrue(quarter < full, quarter + " vs " + full);
        long budget = (long) ((quarter + (full - quarter) / 4) / 0.95);

        LayerPlan shrunk = Model.plan(file, onDevice(budget), NONE);
        assertEquals(SPEC.layerCount() + 1, shrunk.deviceUnits(), shrunk.table());
        assertTrue(shrunk.context().contextSize() < 4096 && shrunk.context().contextSize() >= 1024, shrunk.table());
        assertTrue(shrunk.reasons().get(0).startsWith("auto: context shrunk from 4096 to " + shrunk.context().contextSize()),
                shrunk.reasons().toString());
        assertTrue(shrunk.devices().get(0).fits());

        // The user's -c is kept: fewer layers instead.
        LayerPlan kept = Model.plan(file, onDevice(budget).withPlannedContext(ContextParams.defaults().withContextSize(4096)), NONE);
        assertEquals(4096, kept.context().contextSize());
        assertTrue(kept.deviceUnits() < SPEC.layerCount() + 1, kept.table());
        assertFalse(kept.reasons().stream().anyMatch(r -> r.contains("shrunk")), kept.reasons().toString());
    }

    /** The parts add up, layer rows agree with device totals, and the rough rule is shown beside. */
    @Test
    void theEstimateAddsUp() throws Exception {
        LayerPlan p = Model.plan(file, onDevice(1L << 40).withGpuLayers(2)
                .withPlannedContext(ContextParams.defaults().withContextSize(256).withBatchSize(32)).withParallel(3), NONE);
        LayerPlan.DevicePlan d = p.devices().get(0);
        assertEquals(2, d.layerCount());
        assertFalse(d.output());
        long layerWeights = p.layers().stream().filter(l -> l.backend().equals("device")).mapToLong(LayerPlan.Layer::weightBytes).sum();
        long layerKv = p.layers().stream().filter(l -> l.backend().equals("device")).mapToLong(LayerPlan.Layer::kvBytes).sum();
        assertEquals(layerWeights, d.estimate().weightBytes());
        assertEquals(layerKv, d.estimate().kvCacheBytes());
        // 3 contexts x 2 layers x 256 rows x (K + V) of kv_dim 128 in F16.
        assertEquals(3L * 2 * 256 * 2 * 128 * 2, d.estimate().kvCacheBytes());
        assertEquals(d.estimate().weightBytes() + d.estimate().kvCacheBytes() + d.estimate().activationBytes()
                + d.estimate().scratchBytes(), d.estimatedBytes());
        assertTrue(d.ruleOfThumbBytes() > 0);
        assertEquals(2, p.layersOn("cpu"));
        assertTrue(p.table().contains("0-1       cpu"), p.table());
    }

    /** More memory never means fewer layers. */
    @Test
    void autoIsMonotoneInTheBudget() throws Exception {
        int previous = -1;
        for (long kib = 64; kib <= 16 << 10; kib *= 2) {
            LayerPlan p = Model.plan(file, onDevice(kib << 10).withPlannedContext(ContextParams.defaults().withContextSize(512)), NONE);
            assertTrue(p.deviceUnits() >= previous, kib + " KiB: " + p.deviceUnits() + " < " + previous);
            assertTrue(p.devices().get(0).fits(), p.table());
            previous = p.deviceUnits();
        }
        assertEquals(SPEC.layerCount() + 1, previous);
    }
}
