package dev.spillway.engine.model;

import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.Op;
import dev.spillway.engine.backend.Sizing;
import dev.spillway.engine.backend.Weight;
import dev.spillway.engine.gguf.GgufFile;
import dev.spillway.engine.gguf.GgufTensorInfo;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import dev.spillway.engine.tensor.TensorView;
import dev.spillway.engine.util.Closeables;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * All weights of a llama model, each loaded on the backend the {@link Placement} chose for it.
 * The token embedding stays in host memory (a view of the file): the graph looks rows up on the host.
 *
 * <p>Owns every {@link Weight} it loaded and, for the rare norm vectors stored in a non-F32 type,
 * an {@link Arena} with their F32 copies. Closing it releases all of them. A layer or the output
 * head can be loaded again on another backend ({@link #reload}, {@link #reloadOutput}) when the
 * scheduler spills it; the model serializes that with every forward pass.
 *
 * <p>Which tensors a layer has, and so what each backend allocates for it, is one list
 * ({@link #layerTensors}, {@link #outputTensors}) that both the loader and the memory estimator
 * ({@link #loadedBytes}) read.
 */
public final class LlamaWeights implements AutoCloseable {
    private final TensorView tokenEmbedding;   // (n_vocab, n_embd) in the file, any computable type
    private final LayerWeights[] layers;       // n_layer blocks; replaced by reload
    private Weight outputNorm;                 // (1, n_embd) F32
    private Weight output;                     // (n_vocab, n_embd)
    private final Loader loader;               // owns the F32 conversions arena
    private boolean closed;

    private LlamaWeights(TensorView tokenEmbedding, List<LayerWeights> layers, Weight outputNorm, Weight output,
                         Loader loader) {
        this.tokenEmbedding = tokenEmbedding;
        this.layers = layers.toArray(LayerWeights[]::new);
        this.outputNorm = outputNorm;
        this.output = output;
        this.loader = loader;
    }

    /** Called after each tensor is loaded with the bytes loaded so far and in all. */
    @FunctionalInterface
    public interface Progress {
        void loaded(long bytesDone, long bytesTotal);

        Progress NONE = (done, total) -> { };
    }

    /**
     * One weight tensor as the model uses it.
     *
     * @param name  the GGUF tensor name
     * @param rows  outputs (1 for a norm)
     * @param cols  inputs
     * @param norm  a norm vector: loaded as F32 whatever the file stores
     */
    public record TensorSpec(String name, int rows, int cols, boolean norm) {
    }

    /** The nine tensors of layer {@code index}, in {@link LayerWeights}' order. */
    public static List<TensorSpec> layerTensors(LlamaConfig c, int index) {
        int nEmbd = c.embeddingDim();
        String p = "blk." + index + ".";
        return List.of(
                new TensorSpec(p + "attn_norm.weight", 1, nEmbd, true),
                new TensorSpec(p + "attn_q.weight", c.qDim(), nEmbd, false),
                new TensorSpec(p + "attn_k.weight", c.kvDim(), nEmbd, false),
                new TensorSpec(p + "attn_v.weight", c.kvDim(), nEmbd, false),
                new TensorSpec(p + "attn_output.weight", nEmbd, c.qDim(), false),
                new TensorSpec(p + "ffn_norm.weight", 1, nEmbd, true),
                new TensorSpec(p + "ffn_gate.weight", c.feedForwardDim(), nEmbd, false),
                new TensorSpec(p + "ffn_up.weight", c.feedForwardDim(), nEmbd, false),
                new TensorSpec(p + "ffn_down.weight", nEmbd, c.feedForwardDim(), false));
    }

    /** The output head: the final norm and the output projection (the token embedding when tied). */
    public static List<TensorSpec> outputTensors(LlamaConfig c) {
        return List.of(
                new TensorSpec("output_norm.weight", 1, c.embeddingDim(), true),
                new TensorSpec(c.tiedOutput() ? "token_embd.weight" : "output.weight", c.vocabSize(), c.embeddingDim(), false));
    }

    /**
     * Bytes a backend of {@code sizing} allocates for {@code specs} of {@code file}: what
     * {@link #load} hands the backend (norms converted to F32), sized by the backend's own formula.
     */
    public static long loadedBytes(Sizing sizing, GgufFile file, List<TensorSpec> specs) throws IOException {
        long sum = 0;
        for (TensorSpec t : specs) {
            GgmlType type = file.findTensor(t.name()).map(GgufTensorInfo::type)
                    .orElseThrow(() -> new InvalidModelException(file.path(), "missing tensor " + t.name()));
            sum += sizing.weightBytes(t.norm() ? GgmlType.F32 : type, t.rows(), t.cols());
        }
        return sum;
    }

    public TensorView tokenEmbedding() {
        return tokenEmbedding;
    }

    public LayerWeights layer(int index) {
        return layers[index];
    }

    public Weight outputNorm() {
        return outputNorm;
    }

    public Weight output() {
        return output;
    }

    /** Bytes the backends allocated for these weights (0 for zero-copy CPU views). */
    public long allocatedBytes() {
        return Arrays.stream(layers).mapToLong(LayerWeights::allocatedBytes).sum() + outputNorm.allocatedBytes()
                + output.allocatedBytes();
    }

    /** Bytes the backend of the output head allocated for the final norm and the projection. */
    public long outputAllocatedBytes() {
        return outputNorm.allocatedBytes() + output.allocatedBytes();
    }

    /** Bytes of every tensor the model uses, as stored in the file. */
    public static long fileBytes(GgufFile file) {
        return file.tensors().stream().mapToLong(GgufTensorInfo::byteSize).sum();
    }

    /**
     * Loads every weight onto its backend. If any load fails (out of memory, unsupported type, bad
     * shape), everything loaded so far is closed before the exception propagates.
     */
    public static LlamaWeights load(GgufFile file, LlamaConfig config, Placement placement, Progress progress)
            throws IOException {
        if (placement.layerBackends().size() != config.layerCount()) {
            throw new IllegalArgumentException("placement has " + placement.layerBackends().size() + " layers, model has "
                    + config.layerCount());
        }
        Loader loader = new Loader(file, config);
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            long total = fileBytes(file);
            long[] done = {0};
            Progress counting = (bytes, ignored) -> progress.loaded(done[0] += bytes, total);
            List<LayerWeights> layers = new ArrayList<>(config.layerCount());
            for (int i = 0; i < config.layerCount(); i++) {
                layers.add(loader.layer(i, placement.layer(i), loaded, counting));
            }
            List<Weight> head = loader.load(outputTensors(config), placement.outputBackend(), loaded, counting);
            TensorView embedding = loader.view("token_embd.weight", config.vocabSize(), config.embeddingDim());
            if (!embedding.type().computable()) {
                throw new InvalidModelException(file.path(), "token_embd.weight has type " + embedding.type()
                        + ", which Spillway cannot decode");
            }
            return new LlamaWeights(embedding, layers, head.get(0), head.get(1), loader);
        } catch (IOException | RuntimeException | Error e) {
            loaded.add(0, loader.conversions);   // closed last
            Closeables.closeAllReversed(loaded, e);
            throw e;
        }
    }

    /**
     * Loads layer {@code index} on {@code backend}, not yet in use: {@link #swapLayer} puts it in
     * place. On failure nothing stays allocated.
     */
    public LayerWeights loadLayer(int index, Backend backend) throws IOException {
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            return loader.layer(index, backend, loaded, (bytes, total) -> { });
        } catch (IOException | RuntimeException | Error e) {
            Closeables.closeAllReversed(loaded, e);
            throw e;
        }
    }

    /** Puts {@code fresh} in place of layer {@code index}'s weights and returns those, for the caller to close. */
    public LayerWeights swapLayer(int index, LayerWeights fresh) {
        LayerWeights old = layers[index];
        layers[index] = fresh;
        return old;
    }

    /** Like {@link #loadLayer} for the output head: its norm and projection on {@code backend}. */
    public List<Weight> loadOutput(Backend backend) throws IOException {
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            return loader.load(outputTensors(loader.config), backend, loaded, (bytes, total) -> { });
        } catch (IOException | RuntimeException | Error e) {
            Closeables.closeAllReversed(loaded, e);
            throw e;
        }
    }

    /** Puts {@code fresh} (from {@link #loadOutput}) in place of the output head and returns the old norm and projection. */
    public List<Weight> swapOutput(List<Weight> fresh) {
        List<Weight> old = List.of(outputNorm, output);
        outputNorm = fresh.get(0);
        output = fresh.get(1);
        return old;
    }

    /** Loads tensors by their {@link TensorSpec}s; each loaded weight goes into the caller's list at once. */
    private static final class Loader {
        private final GgufFile file;
        private final LlamaConfig config;
        private final Arena conversions = Arena.ofShared();

        Loader(GgufFile file, LlamaConfig config) {
            this.file = file;
            this.config = config;
        }

        LayerWeights layer(int index, Backend backend, List<AutoCloseable> loaded, Progress progress) throws IOException {
            List<Weight> w = load(layerTensors(config, index), backend, loaded, progress);
            return new LayerWeights(w.get(0), w.get(1), w.get(2), w.get(3), w.get(4), w.get(5), w.get(6), w.get(7), w.get(8));
        }

        List<Weight> load(List<TensorSpec> specs, Backend backend, List<AutoCloseable> loaded, Progress progress)
                throws IOException {
            List<Weight> out = new ArrayList<>(specs.size());
            for (TensorSpec t : specs) {
                TensorView view = view(t.name(), t.rows(), t.cols());
                long fileBytes = view.data().byteSize();
                Weight w = t.norm() ? backend.loadWeight(asF32(view)) : backend.loadWeight(checkMultipliable(view, backend));
                loaded.add(w);
                out.add(w);
                progress.loaded(fileBytes, 0);
            }
            return out;
        }

        TensorView view(String name, int rows, int cols) throws IOException {
            GgufTensorInfo info = file.findTensor(name)
                    .orElseThrow(() -> new InvalidModelException(file.path(), "missing tensor " + name));
            TensorView view = file.view(info);
            if (view.cols() != cols || view.rows() != rows || view.dims() > 2) {
                throw new InvalidModelException(file.path(), "tensor " + name + " has shape " + Arrays.toString(view.shape())
                        + ", expected (" + cols + ", " + rows + ")");
            }
            return view;
        }

        private TensorView checkMultipliable(TensorView view, Backend backend) throws IOException {
            if (!backend.supports(Op.MATMUL, view.type())) {
                throw new InvalidModelException(file.path(), "tensor " + view.name() + " has type " + view.type()
                        + ", which backend " + backend.name() + " cannot multiply");
            }
            return view;
        }

        /** A norm vector in F32: the file's view, or a copy converted into the conversions arena. */
        private TensorView asF32(TensorView view) throws IOException {
            if (view.type() == GgmlType.F32) {
                return view;
            }
            if (!view.type().computable()) {
                throw new InvalidModelException(file.path(), "tensor " + view.name() + " has type " + view.type()
                        + ", which Spillway cannot decode");
            }
            float[] values = new float[view.cols()];
            Quants.dequantize(view.type(), view.data(), 0, values, 0, values.length);
            MemorySegment f32 = conversions.allocate(4L * values.length, 4);
            Quants.quantize(GgmlType.F32, values, 0, values.length, f32, 0);
            return new TensorView(view.name(), GgmlType.F32, view.shape(), f32);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> all = new ArrayList<>();
        all.add(loader.conversions);   // closed last
        all.add(output);
        all.add(outputNorm);
        all.addAll(Arrays.asList(layers));
        Closeables.closeAllReversed(all, null);
    }
}
