package dev.spillway.cli;

import dev.spillway.api.ContextParams;
import dev.spillway.api.ModelParams;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The load options every model command shares, except {@code -ngl} and {@code -t}: {@link ModelOptions}
 * adds those as single values, {@code bench} as lists.
 */
class LoadOptions {
    @Option(names = {"-dev", "--device"}, paramLabel = "DEVICE[,DEVICE...]", converter = ModelOptions.DeviceConverter.class,
            description = {"Device(s) for offloaded layers: cuda, hip, opencl or tornado (TornadoVM), optionally :INDEX (e.g. cuda:1);",
                    "a comma list splits the layers, e.g. opencl:0,opencl:1 (see -ts).",
                    "Default: the best available GPU, CUDA or HIP before OpenCL (`spillway devices` lists them);",
                    "OpenCL devices of kind cpu (PoCL) only when named."})
    String device;

    @Option(names = "--device-memory", paramLabel = "SIZE", converter = ByteSize.Converter.class,
            description = {"Device memory Spillway may use on each device, e.g. 2GiB or 512MiB. Default: what the device reports.",
                    "With no device present, `plan` answers what would fit on a device of SIZE."})
    long deviceMemory = 0;

    @Option(names = {"-ts", "--tensor-split"}, paramLabel = "SHARE[,SHARE...]", converter = ModelOptions.TensorSplitConverter.class,
            description = "Share of the offloaded layers per device, e.g. 3,1. Default: in proportion to free memory.")
    ModelOptions.TensorSplit tensorSplit = new ModelOptions.TensorSplit(List.of());

    @Option(names = "--max-memory", paramLabel = "SIZE", converter = ByteSize.Converter.class,
            description = "Host memory Spillway may use. Default: what the OS reports available.")
    long maxMemory = 0;

    @Option(names = "--fit-target", paramLabel = "SIZE", converter = ByteSize.Converter.class,
            description = "Memory -ngl auto leaves free on each device. Default: 5 %% of the device's budget, at most 256MiB.")
    Long fitTarget;

    @Option(names = "--no-fallback",
            description = "Fail when a device runs out of memory instead of retrying with fewer layers or spilling to the CPU.")
    boolean noFallback;

    @Option(names = {"-np", "--parallel"}, paramLabel = "N",
            description = "Contexts the plan reserves memory for. Default: ${DEFAULT-VALUE}.")
    int parallel = 1;

    @Option(names = "--no-mmap", description = "Read the model into memory instead of mapping it.")
    boolean noMmap;

    @Option(names = "--mlock", description = "Lock the model's pages in RAM (best effort).")
    boolean mlock;

    @Option(names = "--exact", description = {"Keep the CPU's matrix products in floating point (and do not repack).",
            "By default, products with Q8_0 weights, and with Q4_0, Q4_K and Q6_K ones in row groups (see --no-repack), "
                    + "quantize each activation row to 8 bits and multiply in integers, "
                    + "as llama.cpp does (faster; results differ by the activations' rounding)."})
    boolean exact;

    @Option(names = {"-nr", "--no-repack"}, description = {"Keep the CPU's Q4_0, Q8_0, Q4_K and Q6_K weights as views of the file.",
            "By default they are copied at load time into row groups that the integer kernels read faster, "
                    + "for host memory the size of those tensors (counted in the plan and the host budget)."})
    boolean noRepack;

    static {
        System.setProperty("spillway.cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
    }

    /** The load parameters with {@code gpuLayers} and {@code threads}, reserving device memory for {@code planned} ({@code parallel} of them). */
    ModelParams toParams(ContextParams planned, int gpuLayers, int threads) {
        return ModelParams.defaults()
                .withGpuLayers(gpuLayers)
                .withDevice(device)
                .withDeviceMemoryLimit(deviceMemory)
                .withTensorSplit(tensorSplit.shares())
                .withMaxMemory(maxMemory)
                .withMargin(fitTarget == null ? -1 : fitTarget)
                .withStrict(noFallback)
                .withParallel(parallel)
                .withPlannedContext(planned)
                .withThreads(threads)
                .withMmap(!noMmap)
                .withMlock(mlock)
                .withExact(exact)
                .withRepack(!noRepack);
    }
}
