package dev.spillway.cli;

import dev.spillway.api.ModelParams;
import dev.spillway.offload.DeviceRequest;
import picocli.CommandLine.Option;

/** Options that shape how a model is loaded, with llama.cpp's names. */
final class ModelOptions {
    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, paramLabel = "N",
            description = {"Layers to offload to the device: the last N (-1 = all, and the output head too).",
                    "Default: ${DEFAULT-VALUE}."})
    int gpuLayers = 0;

    @Option(names = {"-dev", "--device"}, paramLabel = "DEVICE", converter = DeviceConverter.class,
            description = {"Device for offloaded layers: cuda, hip or opencl, optionally :INDEX (e.g. cuda:1).",
                    "Default: the best available GPU, CUDA or HIP before OpenCL (`spillway devices` lists them);",
                    "OpenCL devices of kind cpu (PoCL) only when named."})
    String device;

    @Option(names = "--device-memory", paramLabel = "SIZE", converter = ByteSize.Converter.class,
            description = "Device memory Spillway may use, e.g. 2GiB or 512MiB. Default: what the device reports.")
    long deviceMemory = 0;

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
                .withDevice(device)
                .withDeviceMemoryLimit(deviceMemory)
                .withThreads(threads)
                .withMmap(!noMmap)
                .withMlock(mlock);
    }

    /** Checks the form of {@code --device} while parsing, so a typo is a usage error (exit 2). */
    static final class DeviceConverter implements picocli.CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                return DeviceRequest.parse(value).toString();
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
