package dev.spillway.cli;

import dev.spillway.api.MemoryInfo;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufTensorInfo;
import dev.spillway.engine.gguf.GgufValue;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.util.Printable;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code spillway info MODEL}: metadata and a tensor table, without loading any weights. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Prints a GGUF file's metadata and its tensors with their types and sizes.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file.")
    Path model;

    @Option(names = "--max-array", paramLabel = "N", description = "Array items to show per metadata value. Default: ${DEFAULT-VALUE}.")
    int maxArray = 8;

    @Option(names = "--no-tensors", description = "Leave out the tensor table.")
    boolean noTensors;

    @Override
    public Integer call() throws Exception {
        Main.configureLogging(false, spec.commandLine().getErr());
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile file = GgufFile.open(model)) {
            out.printf("file:       %s%n", file.path());
            out.printf("size:       %s (%,d bytes)%n", MemoryInfo.human(file.fileSize()), file.fileSize());
            out.printf("gguf:       version %d, alignment %d, %d metadata keys, %d tensors, data at 0x%x%n",
                    file.version(), file.alignment(), file.metadata().size(), file.tensors().size(), file.dataOffset());
            describeModel(out, file);

            out.println();
            out.println("metadata:");
            // Keys, names and string values come from the file: printed escaped, so that none can
            // write terminal escape sequences or fake lines.
            int keyWidth = file.metadata().keySet().stream().mapToInt(k -> Printable.escape(k).length()).max().orElse(10);
            for (Map.Entry<String, GgufValue> e : file.metadata().entrySet()) {
                out.printf("  %-" + keyWidth + "s  %-8s %s%n", Printable.escape(e.getKey()), e.getValue().type(),
                        e.getValue().display(maxArray));
            }
            if (!noTensors) {
                printTensors(out, file);
            }
        }
        return 0;
    }

    private static void describeModel(PrintWriter out, GgufFile file) {
        try {
            LlamaConfig c = LlamaConfig.from(file);
            out.printf("model:      llama, %d layers, n_embd %d, n_ff %d, %d heads (%d KV, head dim %d), vocab %d, context %d%n",
                    c.layerCount(), c.embeddingDim(), c.feedForwardDim(), c.headCount(), c.kvHeadCount(), c.headDim(),
                    c.vocabSize(), c.contextLength());
            out.printf("            rope base %.0f, scale %.3f%s, rms eps %.1e, output %s%n", c.rope().freqBase(),
                    c.rope().freqScale(), c.rope().freqFactors() != null ? ", with rope_freqs" : "", c.rmsEps(),
                    c.tiedOutput() ? "tied to token_embd" : "separate");
        } catch (Exception e) {
            out.printf("model:      not runnable by Spillway: %s%n", Errors.describe(e));
        }
    }

    private static void printTensors(PrintWriter out, GgufFile file) {
        out.println();
        out.println("tensors:");
        int nameWidth = Math.max(4, file.tensors().stream().mapToInt(t -> Printable.escape(t.name()).length()).max().orElse(4));
        out.printf("  %-" + nameWidth + "s  %-6s %-22s %12s %14s%n", "name", "type", "shape", "size", "offset");
        Map<GgmlType, long[]> byType = new TreeMap<>();
        long total = 0;
        for (GgufTensorInfo t : file.tensors()) {
            out.printf("  %-" + nameWidth + "s  %-6s %-22s %12s %14s%n", Printable.escape(t.name()), t.type(), Arrays.toString(t.shape()),
                    MemoryInfo.human(t.byteSize()), String.format("0x%x", file.dataOffset() + t.offset()));
            long[] agg = byType.computeIfAbsent(t.type(), k -> new long[2]);
            agg[0]++;
            agg[1] += t.byteSize();
            total += t.byteSize();
        }
        out.println();
        out.println("by type:");
        for (Map.Entry<GgmlType, long[]> e : byType.entrySet()) {
            out.printf("  %-6s %5d tensors %12s%n", e.getKey(), e.getValue()[0], MemoryInfo.human(e.getValue()[1]));
        }
        out.printf("  %-6s %5d tensors %12s%n", "total", file.tensors().size(), MemoryInfo.human(total));
    }
}
