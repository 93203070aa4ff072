package dev.spillway.cli;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.SyntheticLlama;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code spillway devices --check}: runs small synthetic models in every weight type on each device
 * and on the CPU and compares their logits, so a user (or CI on a GPU machine) can see that a device
 * computes what the CPU does.
 */
final class DeviceCheck {
    /** Largest |device - cpu| logit difference allowed, relative to the largest |cpu| logit. */
    static final double TOLERANCE = 1e-3;
    static final int[] PROMPT = {1, 17, 250, 3, 299, 42, 8};
    static final int[] NEXT = {100, 7, 260};
    static final List<GgmlType> WEIGHTS = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
            GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);

    private DeviceCheck() {
    }

    /** One comparison: which device, model and placement, and the measured error. */
    record Result(String device, String what, double error) {
        boolean ok() {
            return error <= TOLERANCE;
        }
    }

    /** Checks every device in {@code devices}; prints one line per comparison; returns whether all passed. */
    static boolean run(List<DeviceInfo> devices, int threads, PrintWriter out) throws IOException {
        Path dir = Files.createTempDirectory("spillway-device-check");
        try {
            List<Result> results = new ArrayList<>();
            for (GgmlType type : WEIGHTS) {
                SyntheticLlama.Spec spec = new SyntheticLlama.Spec(256, 2, 512, 4, 2, 300, 128, type, false, 11);
                Path file = dir.resolve(spec.fileName());
                SyntheticLlama.write(spec, file);
                // The CPU in floats (--exact): device kernels multiply the activations as they are.
                ModelParams cpuOnly = ModelParams.defaults().withThreads(threads).withGpuLayers(0).withExact(true);
                List<float[]> cpu = logits(file, cpuOnly, GgmlType.F16);
                for (DeviceInfo d : devices) {
                    ModelParams all = cpuOnly.withGpuLayers(-1).withDevice(d.id());
                    results.add(print(out, new Result(d.id(), type + " all layers", error(cpu, logits(file, all, GgmlType.F16)))));
                    if (type == GgmlType.Q4_K) {
                        results.add(print(out, new Result(d.id(), type + " layer 1 only",
                                error(cpu, logits(file, all.withGpuLayers(1), GgmlType.F16)))));
                        List<float[]> cpuQ8 = logits(file, cpuOnly, GgmlType.Q8_0);
                        results.add(print(out, new Result(d.id(), type + " Q8_0 KV cache", error(cpuQ8, logits(file, all, GgmlType.Q8_0)))));
                    }
                }
            }
            long failed = results.stream().filter(r -> !r.ok()).count();
            out.printf("%d comparisons, %d failed (tolerance %.0e of the largest logit)%n", results.size(), failed, TOLERANCE);
            return failed == 0;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static Result print(PrintWriter out, Result r) {
        out.printf("%-10s %-22s max error %.2e  %s%n", r.device(), r.what(), r.error(), r.ok() ? "ok" : "FAILED");
        out.flush();
        return r;
    }

    /** Logits after the prompt (one batch) and after each of three single tokens. */
    private static List<float[]> logits(Path file, ModelParams params, GgmlType cache) throws IOException {
        try (Model m = Model.load(file, params, LlamaWeights.Progress.NONE, Devices.standard());
             Context ctx = m.newContext(ContextParams.defaults().withContextSize(64).withCacheType(cache))) {
            List<float[]> all = new ArrayList<>();
            all.add(ctx.evaluate(PROMPT));
            for (int t : NEXT) {
                all.add(ctx.evaluate(new int[] {t}));
            }
            return all;
        }
    }

    /** max |a - b| over all logits, relative to max |a|. */
    static double error(List<float[]> reference, List<float[]> other) {
        double maxDiff = 0;
        double maxRef = 1e-30;
        for (int i = 0; i < reference.size(); i++) {
            float[] a = reference.get(i);
            float[] b = other.get(i);
            for (int j = 0; j < a.length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
                maxRef = Math.max(maxRef, Math.abs(a[j]));
            }
        }
        return maxDiff / maxRef;
    }
}
