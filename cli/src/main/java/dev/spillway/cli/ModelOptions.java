package dev.spillway.cli;

import dev.spillway.api.ContextParams;
import dev.spillway.api.ModelParams;
import dev.spillway.offload.DeviceRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * Options that shape how a model is loaded and where its layers go, with llama.cpp's names: {@code -ngl}
 * and {@code -t} here, the rest in {@link LoadOptions} (which {@code bench} shares, taking lists for
 * those two).
 */
final class ModelOptions extends LoadOptions {
    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, paramLabel = "N|auto|all", converter = GpuLayersConverter.class,
            description = {"Layers to offload to the device(s): the last N; N above the layer count, -1 or all = every layer",
                    "and the output head; auto = as many as fit (after --fit-target); 0 = none. Default: auto."})
    int gpuLayers = ModelParams.AUTO;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "CPU threads (default: all ${sys:spillway.cores} cores).")
    int threads = 0;

    /** The load parameters, reserving device memory for {@code planned} ({@code parallel} of them). */
    ModelParams toParams(ContextParams planned) {
        return toParams(planned, gpuLayers, threads);
    }

    /** {@code auto}, {@code all}, {@code -1} or a non-negative count. */
    static final class GpuLayersConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            String v = value.strip().toLowerCase(Locale.ROOT);
            if (v.equals("auto")) {
                return ModelParams.AUTO;
            }
            if (v.equals("all") || v.equals("-1")) {
                return ModelParams.ALL_LAYERS;
            }
            try {
                int n = Integer.parseInt(v);
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // falls through to the message below
            }
            throw new TypeConversionException("gpu layers (-ngl) must be auto, all, -1 or a count of 0 or more, got '" + value + "'");
        }
    }

    /** Checks the form of {@code --device} (one device or a comma list) while parsing, so a typo is a usage error (exit 2). */
    static final class DeviceConverter implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                List<String> names = DeviceRequest.parseList(value).stream().map(DeviceRequest::toString).toList();
                return String.join(",", names);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** The shares of {@code -ts}, one value (picocli would take a List field for a repeatable option). */
    record TensorSplit(List<Double> shares) {
    }

    /** One device, for commands that take a single one ({@code devices --check}). */
    static final class SingleDeviceConverter implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                return DeviceRequest.parse(value).toString();
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code 3,1}: non-negative finite shares, at least one above 0. */
    static final class TensorSplitConverter implements ITypeConverter<TensorSplit> {
        @Override
        public TensorSplit convert(String value) {
            List<Double> shares = new ArrayList<>();
            for (String part : value.split(",", -1)) {
                double share;
                try {
                    share = Double.parseDouble(part.strip());
                } catch (NumberFormatException e) {
                    share = Double.NaN;
                }
                if (!(share >= 0) || Double.isInfinite(share)) {
                    throw new TypeConversionException("tensor split (-ts) must be a comma list of shares >= 0, e.g. 3,1, got '" + value + "'");
                }
                shares.add(share);
            }
            if (shares.stream().mapToDouble(Double::doubleValue).sum() <= 0) {
                throw new TypeConversionException("tensor split (-ts) needs at least one share above 0, got '" + value + "'");
            }
            return new TensorSplit(List.copyOf(shares));
        }
    }
}
