package dev.spillway.cli;

import dev.spillway.engine.model.ModelQuantizer;
import dev.spillway.engine.tensor.GgmlType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code spillway quantize IN OUT TYPE}: a copy of a model with its matrices in another type. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Writes a copy of a GGUF model with its 2-D weight matrices in TYPE (f16, bf16, q8_0, q4_0, q4_1).",
                "Matrices whose rows are not a whole number of TYPE's blocks, and norms, are copied as they are."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN", description = "GGUF model to read.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "GGUF file to write (replaced if it exists).")
    Path out;

    @Parameters(index = "2", paramLabel = "TYPE", converter = TypeConverter.class, description = "f16, bf16, q8_0, q4_0 or q4_1.")
    GgmlType type;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Main.configureLogging(false, err);
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new ParameterException(spec.commandLine(), "OUT is the same file as IN: " + in);
        }
        ModelQuantizer.Summary s = ModelQuantizer.quantize(in, out, type);
        PrintWriter o = spec.commandLine().getOut();
        o.printf(Locale.ROOT, "%s: %d tensors in %s, %d kept as they were%s%n", out, s.converted().size(), type,
                s.kept().size(), s.kept().isEmpty() ? "" : " (" + String.join(", ", s.kept()) + ")");
        o.flush();
        return 0;
    }

    /** A type name as llama.cpp spells it. */
    static final class TypeConverter implements ITypeConverter<GgmlType> {
        @Override
        public GgmlType convert(String value) {
            for (GgmlType t : ModelQuantizer.TARGET_TYPES) {
                if (t.name().equalsIgnoreCase(value.strip())) {
                    return t;
                }
            }
            throw new TypeConversionException("unknown or unsupported type '" + value + "'; use one of f16, bf16, q8_0, q4_0, q4_1");
        }
    }
}
