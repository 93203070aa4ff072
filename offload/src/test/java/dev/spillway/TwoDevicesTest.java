package dev.spillway;

import static dev.spillway.SchedulerTesting.PROMPT;
import static dev.spillway.SchedulerTesting.greedy;
import static dev.spillway.SchedulerTesting.greedyContext;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.testing.TestModels;
import dev.spillway.offload.schedule.LayerPlan;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --device opencl:0,opencl:1}: offloaded layers split in contiguous runs, device 0 first, in
 * proportion to the budgets (equal here) or {@code -ts}, with Planner.split's cumulative rounding
 * (device d ends at round(k x cumulative share / total)); the output head on the last device; the
 * CPU's greedy text.
 */
class TwoDevicesTest {
    static final ContextParams CTX = greedyContext(128);
    static Path stories;
    static String cpuText;

    @BeforeAll
    static void setUp() throws Exception {
        SchedulerTesting.assumeTwoOpenClDevices();
        stories = TestModels.stories260K();
        try (Model m = Model.load(stories, SchedulerTesting.cpuOnly(CTX))) {
            cpuText = greedy(m, CTX, PROMPT, 48);
        }
    }

    /** The documented rule, written out again: the backend of each of the 5 layers. */
    static List<String> expected(int layers, int k, double[] shares) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < layers - k; i++) {
            out.add("cpu");
        }
        double total = 0;
        for (double s : shares) {
            total += s;
        }
        double cumulative = 0;
        int from = 0;
        for (int d = 0; d < shares.length; d++) {
            cumulative += shares[d];
            int to = d == shares.length - 1 ? k : (int) Math.round(k * cumulative / total);
            for (int j = from; j < to; j++) {
                out.add("opencl:" + d);
            }
            from = Math.max(from, to);
        }
        return out;
    }

    @ParameterizedTest(name = "-ngl {0} -ts {1}")
    @CsvSource(delimiter = ';', value = {"-1;", "-1;3,1", "3;", "3;1,3", "5;1,1"})
    void layersSplitContiguouslyByShareAndTheTextIsTheCpus(int ngl, String ts) throws Exception {
        List<Double> split = ts == null ? List.of() : List.of(ts.split(",")).stream().map(Double::parseDouble).toList();
        ModelParams params = SchedulerTesting.base(CTX).withDevice("opencl:0,opencl:1").withGpuLayers(ngl).withTensorSplit(split);
        try (Model m = Model.load(stories, params)) {
            int layers = m.config().layerCount();
            int k = ngl < 0 ? layers : Math.min(ngl, layers);
            double[] shares = split.isEmpty() ? new double[] {1, 1} : split.stream().mapToDouble(Double::doubleValue).toArray();
            List<String> want = expected(layers, k, shares);
            LayerPlan plan = m.plan();
            assertEquals(want, plan.layers().stream().map(LayerPlan.Layer::backend).toList(), plan.table());
            List<String> placed = new ArrayList<>();
            for (int i = 0; i < layers; i++) {
                placed.add(m.placement().layer(i).name());
            }
            assertEquals(want, placed, m.placement().table());
            assertEquals(ngl < 0 ? "opencl:1" : "cpu", m.placement().outputBackend().name(), "the output head goes with the last device");
            assertEquals(3, m.backends().size());
            if (split.isEmpty() && ngl < 0) {
                assertEquals(3, plan.layersOn("opencl:0"), "equal budgets: 5 layers split 3 + 2 (round(2.5) = 3)");
                assertEquals(2, plan.layersOn("opencl:1"));
            }
            assertEquals(cpuText, greedy(m, CTX, PROMPT, 48));
        }
    }

    @Test
    void equalBudgetsSplitInHalves() throws Exception {
        ModelParams params = SchedulerTesting.base(CTX).withDevice("opencl:0,opencl:1").withGpuLayers(4);
        try (Model m = Model.load(stories, params)) {
            assertEquals(2, m.plan().layersOn("opencl:0"), m.plan().table());
            assertEquals(2, m.plan().layersOn("opencl:1"), m.plan().table());
            assertEquals(m.plan().devices().get(0).budgetBytes(), m.plan().devices().get(1).budgetBytes());
        }
    }
}
