package dev.spillway.engine.model;

import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.Op;
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
 * an {@link Arena} with their F32 copies. Closing it releases all of them.
 */
public final class LlamaWeights implements AutoCloseable {
    private final TensorView tokenEmbedding;   // (n_vocab, n_embd) in the file, any computable type
    private final List<LayerWeights> layers;   // n_layer blocks
    private final Weight outputNorm;           // (1, n_embd) F32
    private final Weight output;               // (n_vocab, n_embd)
    private final Arena conversions;
    private boolean closed;

    private LlamaWeights(TensorView tokenEmbedding, List<LayerWeights> layers, Weight outputNorm, Weight output,
                         Arena conversions) {
        this.tokenEmbedding = tokenEmbedding;
        this.layers = List.copyOf(layers);
        this.outputNorm = outputNorm;
        this.output = output;
        this.conversions = conversions;
    }

    /** Called after each tensor is loaded with the bytes loaded so far and in all. */
    @FunctionalInterface
    public interface Progress {
        void loaded(long bytesDone, long bytesTotal);

        Progress NONE = (done, total) -> { };
    }

    public TensorView tokenEmbedding() {
        return tokenEmbedding;
    }

    public LayerWeights layer(int index) {
        return layers.get(index);
    }

    public Weight outputNorm() {
        return outputNorm;
    }

    public Weight output() {
        return output;
    }

    /** Bytes the backends allocated for these weights (0 for zero-copy CPU views). */
    public long allocatedBytes() {
        return layers.stream().mapToLong(LayerWeights::allocatedBytes).sum() + outputNorm.allocatedBytes()
                + output.allocatedBytes();
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
        Loader loader = new Loader(file, config, progress);
        try {
            List<LayerWeights> layers = new ArrayList<>(config.layerCount());
            for (int i = 0; i < config.layerCount(); i++) {
                layers.add(loader.layer(i, placement.layer(i)));
            }
            Backend out = placement.outputBackend();
            Weight outputNorm = loader.norm("output_norm.weight", out);
            String outputName = config.tiedOutput() ? "token_embd.weight" : "output.weight";
            Weight output = loader.matrix(outputName, out, config.vocabSize(), config.embeddingDim());
            TensorView embedding = loader.view("token_embd.weight", config.vocabSize(), config.embeddingDim());
            if (!embedding.type().computable()) {
                throw new InvalidModelException(file.path(), "token_embd.weight has type " + embedding.type()
                        + ", which Spillway cannot decode");
            }
            return new LlamaWeights(embedding, layers, outputNorm, output, loader.conversions);
        } catch (IOException | RuntimeException | Error e) {
            loader.closeAll(e);
            throw e;
        }
    }

    /** Loads tensors one by one and remembers them, so a failure can release what was loaded. */
    private static final class Loader {
        private final GgufFile file;
        private final LlamaConfig config;
        private final Progress progress;
        private final long total;
        private long done;
        private final List<AutoCloseable> loaded = new ArrayList<>();
        private final Arena conversions = Arena.ofShared();

        Loader(GgufFile file, LlamaConfig config, Progress progress) {
            this.file = file;
            this.config = config;
            this.progress = progress;
            this.total = fileBytes(file);
        }

        LayerWeights layer(int index, Backend backend) throws IOException {
            int nEmbd = config.embeddingDim();
            String p = "blk." + index + ".";
            var weights = new LayerWeights(
                    norm(p + "attn_norm.weight", backend),
                    matrix(p + "attn_q.weight", backend, config.qDim(), nEmbd),
                    matrix(p + "attn_k.weight", backend, config.kvDim(), nEmbd),
                    matrix(p + "attn_v.weight", backend, config.kvDim(), nEmbd),
                    matrix(p + "attn_output.weight", backend, nEmbd, config.qDim()),
                    norm(p + "ffn_norm.weight", backend),
                    matrix(p + "ffn_gate.weight", backend, config.feedForwardDim(), nEmbd),
                    matrix(p + "ffn_up.weight", backend, config.feedForwardDim(), nEmbd),
                    matrix(p + "ffn_down.weight", backend, nEmbd, config.feedForwardDim()));
            // The individual weights are tracked in 'loaded' already; the record just groups them.
            return weights;
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

        Weight matrix(String name, Backend backend, int rows, int cols) throws IOException {
            TensorView view = view(name, rows, cols);
            if (!backend.supports(Op.MATMUL, view.type())) {
                throw new InvalidModelException(file.path(), "tensor " + name + " has type " + view.type()
                        + ", which backend " + backend.name() + " cannot multiply");
            }
            return track(backend.loadWeight(view), view.data().byteSize());
        }

        Weight norm(String name, Backend backend) throws IOException {
            TensorView view = view(name, 1, config.embeddingDim());
            long fileBytes = view.data().byteSize();
            if (view.type() != GgmlType.F32) {
                if (!view.type().computable()) {
                    throw new InvalidModelException(file.path(), "tensor " + name + " has type " + view.type()
                            + ", which Spillway cannot decode");
                }
                float[] values = new float[view.cols()];
                Quants.dequantize(view.type(), view.data(), 0, values, 0, values.length);
                MemorySegment f32 = conversions.allocate(4L * values.length, 4);
                Quants.quantize(GgmlType.F32, values, 0, values.length, f32, 0);
                view = new TensorView(name, GgmlType.F32, view.shape(), f32);
            }
            return track(backend.loadWeight(view), fileBytes);
        }

        private Weight track(Weight w, long bytes) {
            loaded.add(w);
            done += bytes;
            progress.loaded(done, total);
            return w;
        }

        void closeAll(Throwable failure) {
            loaded.add(0, conversions);   // closed last
            Closeables.closeAllReversed(loaded, failure);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> all = new ArrayList<>();
        all.add(conversions);   // closed last
        all.add(output);
        all.add(outputNorm);
        all.addAll(layers);
        Closeables.closeAllReversed(all, null);
    }
}
