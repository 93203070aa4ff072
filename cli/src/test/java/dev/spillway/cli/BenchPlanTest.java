package dev.spillway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.api.ModelParams;
import dev.spillway.engine.tensor.GgmlType;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The sweep's expansion into cases and tests, llama-bench style, and its statistics. */
class BenchPlanTest {
    private static final Path A = Path.of("a.gguf");
    private static final Path B = Path.of("b.gguf");

    @Test
    void casesAreTheCrossProductAndTestsThePositiveLengths() {
        BenchPlan plan = BenchPlan.of(List.of(A, B), List.of(0, 8, ModelParams.ALL_LAYERS, ModelParams.AUTO),
                List.of(GgmlType.F16, GgmlType.Q8_0), List.of(GgmlType.F16), List.of(1, 2), List.of(512, 0), List.of(128, 32), 5);
        assertEquals(2 * 4 * 2 * 1 * 2, plan.cases().size());
        assertEquals(new BenchPlan.Case(A, 0, GgmlType.F16, GgmlType.F16, 1), plan.cases().getFirst());
        assertEquals(new BenchPlan.Case(A, 8, GgmlType.F16, GgmlType.F16, 1), plan.cases().get(1), "-ngl varies fastest");
        assertEquals(new BenchPlan.Case(B, ModelParams.AUTO, GgmlType.Q8_0, GgmlType.F16, 2), plan.cases().getLast());
        assertEquals(List.of("pp512", "tg128", "tg32"), plan.tests().stream().map(BenchPlan.Test::name).toList());
        assertEquals(5, plan.repetitions());
        assertEquals(512, plan.maxPrompt());
        assertEquals(512 + BenchPlan.WARMUP_TOKENS + 1, plan.contextSize());
        assertEquals("auto", plan.cases().getLast().gpuLayersLabel());
        assertEquals("-1", BenchPlan.label(ModelParams.ALL_LAYERS));
    }

    @Test
    void repeatedValuesRunOnce() {
        BenchPlan plan = BenchPlan.of(List.of(A, A), List.of(0, 0, 4), List.of(GgmlType.F16), List.of(GgmlType.F16, GgmlType.F16),
                List.of(0), List.of(16, 16), List.of(8), 1);
        assertEquals(2, plan.cases().size());
        assertEquals(2, plan.tests().size());
    }

    @Test
    void badSweepsAreUsageErrors() {
        List<GgmlType> f16 = List.of(GgmlType.F16);
        assertThrows(IllegalArgumentException.class, () -> BenchPlan.of(List.of(A), List.of(0), f16, f16, List.of(1), List.of(0), List.of(0), 1));
        assertThrows(IllegalArgumentException.class, () -> BenchPlan.of(List.of(A), List.of(0), f16, f16, List.of(1), List.of(-4), List.of(8), 1));
        assertThrows(IllegalArgumentException.class, () -> BenchPlan.of(List.of(A), List.of(0), f16, f16, List.of(1), List.of(4), List.of(8), 0));
        assertThrows(IllegalArgumentException.class, () -> BenchPlan.of(List.of(A), List.of(0), f16, f16, List.of(-2), List.of(4), List.of(8), 1));
        assertThrows(IllegalArgumentException.class, () -> BenchPlan.of(List.of(), List.of(0), f16, f16, List.of(1), List.of(4), List.of(8), 1));
    }

    @Test
    void meanAndSampleStandardDeviation() {
        BenchPlan.Stats s = BenchPlan.Stats.of(new double[] {10, 12, 14});
        assertEquals(12, s.mean(), 1e-12);
        assertEquals(2, s.stddev(), 1e-12);
        assertEquals(new BenchPlan.Stats(7, 0), BenchPlan.Stats.of(new double[] {7}));
    }

    @Test
    void csvQuotesWhatNeedsIt() {
        assertEquals("\"CPU,opencl:0\"", BenchOutput.csv("CPU,opencl:0"));
        assertEquals("1;2", BenchOutput.csv(List.of(1, 2)));
        assertEquals("", BenchOutput.csv(null));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchOutput.Format.parse("xml")).getMessage().contains("-o"));
    }
}
