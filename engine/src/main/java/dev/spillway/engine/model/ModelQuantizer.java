package dev.spillway.engine.model;

import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufTensorInfo;
import dev.spillway.engine.gguf.GgufWriter;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Writes a copy of a GGUF model with its 2-D weight matrices converted to another type, through the
 * project's own writer ({@link Quants#quantize}). As llama-quantize does, a matrix whose rows are
 * not a whole number of the type's blocks keeps its type, and 1-D tensors (norms) stay as they are.
 * The metadata is copied, with {@code general.file_type} set to the new type's llama.cpp value.
 */
public final class ModelQuantizer {

    /** The types a model can be converted to. */
    public static final Set<GgmlType> TARGET_TYPES = Set.of(GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
            GgmlType.Q4_1);

    private static final String FILE_TYPE = "general.file_type";

    /**
     * What a conversion did.
     *
     * @param converted the tensors written in the new type
     * @param kept      the tensors copied as they were (1-D, or rows not a whole number of blocks)
     */
    public record Summary(List<String> converted, List<String> kept) {
        public Summary {
            converted = List.copyOf(converted);
            kept = List.copyOf(kept);
        }
    }

    private ModelQuantizer() {
    }

    /**
     * Writes {@code in}'s copy with its matrices in {@code type} to {@code out}.
     *
     * @throws IllegalArgumentException if {@code type} is not one of {@link #TARGET_TYPES} or
     *                                  {@code out} is {@code in}
     */
    public static Summary quantize(Path in, Path out, GgmlType type) throws IOException {
        if (!TARGET_TYPES.contains(type)) {
            throw new IllegalArgumentException("cannot convert a model to " + type + "; use one of f16, bf16, q8_0, q4_0, q4_1");
        }
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the output file is the input file: " + in);
        }
        List<String> converted = new ArrayList<>();
        List<String> kept = new ArrayList<>();
        try (GgufFile f = GgufFile.open(in)) {
            GgufWriter w = new GgufWriter().version(f.version()).alignment((int) f.alignment());
            f.metadata().forEach((k, v) -> {
                if (!k.equals(FILE_TYPE)) {
                    w.put(k, v);
                }
            });
            w.putUint32(FILE_TYPE, SyntheticLlama.fileType(type));
            for (GgufTensorInfo t : f.tensors()) {
                TensorView view = f.view(t);
                if (t.dims() == 2 && t.shape()[0] % type.blockElements() == 0 && t.type() != type) {
                    int cols = view.cols();
                    long rowBytes = view.rowBytes();
                    w.addTensor(t.name(), type, t.shape(), (firstRow, rowCount, dst) -> {
                        for (int r = 0; r < rowCount; r++) {
                            Quants.dequantize(t.type(), view.data(), (firstRow + r) * rowBytes, dst, r * cols, cols);
                        }
                    });
                    converted.add(t.name());
                } else {
                    w.addRawTensor(t.name(), t.type(), t.shape(), view.data());
                    kept.add(t.name());
                }
            }
            w.write(out);
        }
        return new Summary(converted, kept);
    }
}
