package dev.spillway.cli;

import dev.spillway.api.ModelParams;
import picocli.CommandLine.Option;

/** Options that shape how a model is loaded, with llama.cpp's names. */
final class ModelOptions {
    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, paramLabel = "N",
            description = "Layers to offload to the GPU (-1 = all). Default: ${DEFAULT-VALUE}.")
    int gpuLayers = 0;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "CPU threads (default: all ${sys:spillway.cores} cores).")
    int threads = 0;

    @Option(names = "--no-mmap", description = "Read the model into memory instead of mapping it.")
    boolean noMmap;

    @Option(names = "--mlock", description = "Lock the model's pages in RAM (best effort).")
    boolean mlock;

    static {
        System.setProperty("spillway.cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
    }

    ModelParams toParams() {
        return ModelParams.defaults()
                .withGpuLayers(gpuLayers)
                .withThreads(threads)
                .withMmap(!noMmap)
                .withMlock(mlock);
    }
}
