package dev.spillway.cli;

import dev.spillway.offload.metrics.MemorySampler;
import dev.spillway.offload.metrics.Reading;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One test of one case: what {@code bench} prints and writes. {@link #fields()} names the values as
 * llama-bench does where it has the value (snake_case) and in Spillway's own names otherwise (camelCase).
 *
 * @param benchCase     the case
 * @param test          the test
 * @param model         the model's {@code general.name} (or file name)
 * @param weightType    the type holding most of the model's bytes
 * @param modelSize     the weights' bytes
 * @param params        the parameter count
 * @param threads       CPU threads used
 * @param device        the devices that hold layers, comma-separated, or {@code cpu}
 * @param deviceLayers  layers on devices after the load (the output head not counted)
 * @param outputOnDevice whether the output head runs on a device
 * @param estimatedBytes the loaded plan's estimate, summed over the devices
 * @param allocatedBytes what the device backends' counters hold after the test, summed
 * @param hostEstimatedBytes the plan's host estimate
 * @param cpuAllocatedBytes  the CPU backend's counter
 * @param memory        the external reading over the case: a device's management library or tool, or for
 *                      OpenCL/PoCL and the CPU the process's resident set
 * @param rss           the process's resident set over the case
 * @param samplesNs     each repetition's time
 * @param weightBytesPerToken bytes of weights read per generated token (for the GB/s figure of tg)
 */
record BenchResult(BenchPlan.Case benchCase, BenchPlan.Test test, String model, String weightType, long modelSize, long params,
                   int threads, String device, int deviceLayers, boolean outputOnDevice, long estimatedBytes, long allocatedBytes,
                   long hostEstimatedBytes, long cpuAllocatedBytes, MemorySampler.Summary memory, MemorySampler.Summary rss,
                   long[] samplesNs, long weightBytesPerToken) {

    double[] samplesTs() {
        return Arrays.stream(samplesNs).mapToDouble(ns -> test.tokens() * 1e9 / ns).toArray();
    }

    BenchPlan.Stats ts() {
        return BenchPlan.Stats.of(samplesTs());
    }

    BenchPlan.Stats ns() {
        return BenchPlan.Stats.of(Arrays.stream(samplesNs).asDoubleStream().toArray());
    }

    /** Weight bytes read per second while generating (tg); 0 for pp. */
    double weightGigabytesPerSecond() {
        return test.gen() > 0 ? ts().mean() * weightBytesPerToken / 1e9 : 0;
    }

    /** What the charts get: measured = the device reading's peak less its before, or the process's resident-set peak. */
    BenchPoint point() {
        // What the case added: the device's reading (or, without one, the process's resident set), peak minus before.
        long measured = external() ? memory.deltaBytes() : rss.peak() == null || rss.before() == null ? -1
                : rss.peak().usedBytes() - rss.before().usedBytes();
        return new BenchPoint(model, weightType, deviceLayers, test.prompt() > 0 ? "pp" : "tg", ts().mean(), estimatedBytes,
                allocatedBytes, measured);
    }

    /** Whether {@link #memory} is a device's reading rather than the process's. */
    boolean external() {
        return memory != rss;
    }

    /** The values by name, in a stable order: llama-bench's names first, then Spillway's. */
    Map<String, Object> fields() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("model_filename", benchCase.model().toString());
        f.put("model_type", model + " " + weightType);
        f.put("model_size", modelSize);
        f.put("model_n_params", params);
        f.put("backends", device.equals("cpu") ? "CPU" : "CPU," + device);
        f.put("n_batch", test.prompt() > 0 ? test.prompt() : 1);
        f.put("n_threads", threads);
        f.put("type_k", BenchPlan.typeName(benchCase.keyType()));
        f.put("type_v", BenchPlan.typeName(benchCase.valueType()));
        f.put("n_gpu_layers", benchCase.gpuLayers() == dev.spillway.api.ModelParams.AUTO ? "auto" : benchCase.gpuLayers());
        f.put("n_prompt", test.prompt());
        f.put("n_gen", test.gen());
        f.put("test", test.name());
        BenchPlan.Stats ns = ns();
        BenchPlan.Stats ts = ts();
        f.put("avg_ns", Math.round(ns.mean()));
        f.put("stddev_ns", Math.round(ns.stddev()));
        f.put("avg_ts", ts.mean());
        f.put("stddev_ts", ts.stddev());
        f.put("samples_ns", Arrays.stream(samplesNs).boxed().toList());
        f.put("samples_ts", Arrays.stream(samplesTs()).boxed().toList());
        f.put("model", model);
        f.put("weightType", weightType);
        f.put("device", device);
        f.put("deviceLayers", deviceLayers);
        f.put("outputOnDevice", outputOnDevice);
        f.put("estimatedBytes", estimatedBytes);
        f.put("allocatedBytes", allocatedBytes);
        f.put("hostEstimatedBytes", hostEstimatedBytes);
        f.put("cpuAllocatedBytes", cpuAllocatedBytes);
        f.put("memorySource", memory.source());
        f.put("memoryTotal", memory.peak() == null ? null : memory.peak().totalBytes());
        f.put("memoryBefore", used(memory.before()));
        f.put("memoryPeak", used(memory.peak()));
        f.put("memoryAfter", used(memory.after()));
        f.put("memoryDelta", memory.before() == null || memory.peak() == null ? null : memory.deltaBytes());
        f.put("memorySamples", memory.samples());
        f.put("memoryReason", memory.reason());
        f.put("gpuUtilization", number(memory.peak() == null ? Double.NaN : memory.peak().utilizationPercent()));
        f.put("powerWatts", number(memory.peak() == null ? Double.NaN : memory.peak().powerWatts()));
        f.put("rssBefore", used(rss.before()));
        f.put("rssPeak", used(rss.peak()));
        f.put("rssAfter", used(rss.after()));
        f.put("weightGBps", weightGigabytesPerSecond());
        return f;
    }

    /** The names {@link #fields()} uses, for a CSV header. */
    static List<String> names(BenchResult any) {
        return new ArrayList<>(any.fields().keySet());
    }

    private static Long used(Reading r) {
        return r == null ? null : r.usedBytes();
    }

    private static Double number(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
