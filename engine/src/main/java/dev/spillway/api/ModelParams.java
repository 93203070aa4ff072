package dev.spillway.api;

import java.util.List;
import java.util.Objects;

/**
 * How to load a model. Read once by {@code Model.load}; immutable.
 *
 * @param mmap              map the file (zero-copy, the default) instead of reading it into memory
 * @param mlock             pin the model's pages in RAM (best effort: a warning when the OS refuses)
 * @param threads           CPU threads for the CPU backend; 0 = every available core
 * @param gpuLayers         layers to offload ({@code -ngl}): N = the last N layers; more than the
 *                          layer count (or {@link #ALL_LAYERS}) = every layer and the output head;
 *                          {@link #AUTO} = the most that fit the devices; 0 = none
 * @param device            device(s) for offloaded layers, e.g. {@code opencl:0} or
 *                          {@code opencl:0,opencl:1}; null = the best available GPU
 * @param deviceMemoryLimit bytes of memory Spillway may use on each device; 0 = what the device reports
 * @param maxMemory         bytes of host memory Spillway may use; 0 = what the OS reports available at load
 * @param margin            bytes {@code auto} leaves free on each device; -1 = the default,
 *                          {@link #defaultMargin} of the device's budget
 * @param tensorSplit       share of the offloaded layers per device ({@code -ts 3,1}); empty = in
 *                          proportion to each device's free memory
 * @param strict            fail when a device runs out instead of retrying with fewer layers
 *                          ({@code --no-fallback}); also stops live spill
 * @param plannedContext    the context the plan reserves device memory for ({@code -c}, {@code -b},
 *                          {@code -ctk}, {@code -ctv})
 * @param parallel          how many contexts of {@code plannedContext} the plan reserves ({@code --parallel})
 * @param exact             keep the CPU's matrix products in floating point ({@code --exact}); by
 *                          default products with Q8_0 weights, and with Q4_0, Q4_1, Q4_K, Q5_K and Q6_K ones in
 *                          row groups, run on the integer path, with the activations quantized to 8
 *                          bits as llama.cpp does
 * @param repack            copy the CPU's Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K weights into row groups at load
 *                          time (on by default; {@code --no-repack} keeps them views of the file):
 *                          faster integer kernels, for host memory the size of those tensors (Q6_K:
 *                          30 % more), counted in the plan and the host budget; no effect with
 *                          {@code exact}
 */
public record ModelParams(boolean mmap, boolean mlock, int threads, int gpuLayers, String device, long deviceMemoryLimit,
                          long maxMemory, long margin, List<Double> tensorSplit, boolean strict,
                          ContextParams plannedContext, int parallel, boolean exact,
                          boolean repack) {

    /** More CPU threads than this is a mistake, not a configuration. */
    public static final int MAX_THREADS = 1024;
    /** {@code -ngl -1}: every layer and the output head. */
    public static final int ALL_LAYERS = -1;
    /** {@code -ngl auto}: the largest offload that fits. */
    public static final int AUTO = -2;
    /** The default margin's cap. */
    public static final long DEFAULT_MARGIN_CAP = 256L << 20;

    public ModelParams {
        if (threads < 0 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads (-t) must be 0 (all cores) or 1.." + MAX_THREADS + ", got " + threads);
        }
        if (gpuLayers < AUTO) {
            throw new IllegalArgumentException("gpu layers (-ngl) must be auto, -1 (all), 0 or positive, got " + gpuLayers);
        }
        if (deviceMemoryLimit < 0) {
            throw new IllegalArgumentException("device memory limit must not be negative, got " + deviceMemoryLimit);
        }
        if (maxMemory < 0) {
            throw new IllegalArgumentException("host memory limit (--max-memory) must not be negative, got " + maxMemory);
        }
        if (margin < -1) {
            throw new IllegalArgumentException("device margin must be -1 (default) or at least 0 bytes, got " + margin);
        }
        tensorSplit = List.copyOf(Objects.requireNonNull(tensorSplit, "tensorSplit"));
        for (double share : tensorSplit) {
            if (!(share >= 0) || Double.isInfinite(share)) {
                throw new IllegalArgumentException("tensor split (-ts) shares must be finite and >= 0, got " + tensorSplit);
            }
        }
        if (!tensorSplit.isEmpty() && tensorSplit.stream().mapToDouble(Double::doubleValue).sum() <= 0) {
            throw new IllegalArgumentException("tensor split (-ts) needs at least one share above 0, got " + tensorSplit);
        }
        Objects.requireNonNull(plannedContext, "plannedContext");
        if (parallel < 1 || parallel > 4096) {
            throw new IllegalArgumentException("parallel contexts (--parallel) must be 1..4096, got " + parallel);
        }
    }

    /** mmap on, mlock off, repacking on, all cores, {@code -ngl auto}, automatic device choice, no limits, default margin, one default context. */
    public static ModelParams defaults() {
        return new ModelParams(true, false, 0, AUTO, null, 0, 0, -1, List.of(), false, ContextParams.defaults(), 1, false, true);
    }

    /** The margin {@code auto} leaves on a device of {@code budgetBytes}: 5 % of it, at most 256 MiB. */
    public static long defaultMargin(long budgetBytes) {
        return Math.min(DEFAULT_MARGIN_CAP, budgetBytes / 20);
    }

    /** {@link #margin()}, or the default for a device of {@code budgetBytes}. */
    public long marginFor(long budgetBytes) {
        return margin >= 0 ? margin : defaultMargin(budgetBytes);
    }

    public ModelParams withMmap(boolean value) {
        return new ModelParams(value, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withMlock(boolean value) {
        return new ModelParams(mmap, value, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withThreads(int value) {
        return new ModelParams(mmap, mlock, value, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withGpuLayers(int value) {
        return new ModelParams(mmap, mlock, threads, value, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withDevice(String value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, value, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withDeviceMemoryLimit(long value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, value, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withMaxMemory(long value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, value, margin, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withMargin(long value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, value, tensorSplit, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withTensorSplit(List<Double> value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, value, strict, plannedContext, parallel, exact, repack);
    }

    public ModelParams withStrict(boolean value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, value, plannedContext, parallel, exact, repack);
    }

    public ModelParams withPlannedContext(ContextParams value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, value, parallel, exact, repack);
    }

    public ModelParams withParallel(int value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, value, exact, repack);
    }

    public ModelParams withRepack(boolean value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, exact, value);
    }

    public ModelParams withExact(boolean value) {
        return new ModelParams(mmap, mlock, threads, gpuLayers, device, deviceMemoryLimit, maxMemory, margin, tensorSplit, strict, plannedContext, parallel, value, repack);
    }

    /** The thread count to use: {@link #threads()}, or the number of available processors when 0. */
    public int effectiveThreads() {
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }
}
