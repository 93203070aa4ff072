package dev.spillway.cpu.kernel;

import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.RopeSpec;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.tensor.Quants;
import java.lang.foreign.MemorySegment;

/**
 * Plain scalar versions of every kernel, written from the definitions with no vectors and with
 * double-precision accumulation: the oracle the vectorized kernels are tested against. Weights and
 * cache rows are decoded with {@link Quants#dequantize}.
 */
public final class ScalarReference {
    private ScalarReference() {
    }

    /** {@code out[t*rows + r] = W[r] . x[t*cols ..]} for t &lt; n; W is {@code rows} rows of {@code cols}. */
    public static void matMul(GgmlType type, MemorySegment w, int rows, int cols, float[] x, int n, float[] out) {
        long rowBytes = type.bytesFor(cols);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            Quants.dequantize(type, w, r * rowBytes, row, 0, cols);
            for (int t = 0; t < n; t++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += (double) row[c] * x[t * cols + c];
                }
                out[t * rows + r] = (float) s;
            }
        }
    }

    /** Row t: {@code out = x / sqrt(mean(x^2) + eps) * gamma}. */
    public static void rmsNorm(float[] out, float[] x, float[] gamma, int n, int dim, float eps) {
        for (int t = 0; t < n; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                ss += (double) x[t * dim + i] * x[t * dim + i];
            }
            double scale = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) {
                out[t * dim + i] = (float) (x[t * dim + i] * scale * gamma[i]);
            }
        }
    }

    /**
     * RoPE straight from the {@link RopeSpec} definition: for pair i at position p,
     * {@code theta = p * freqScale * freqBase^(-2i/rotatedDims) / factor[i]}.
     */
    public static void rope(float[] x, int n, int heads, int headDim, int startPos, RopeSpec spec) {
        int rot = spec.rotatedDims();
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < rot / 2; i++) {
                    double theta = (startPos + t) * spec.freqScale() * Math.pow(spec.freqBase(), -2.0 * i / rot);
                    if (spec.freqFactors() != null) {
                        theta /= spec.freqFactors()[i];
                    }
                    int a = spec.style() == RopeSpec.Style.INTERLEAVED ? base + 2 * i : base + i;
                    int b = spec.style() == RopeSpec.Style.INTERLEAVED ? base + 2 * i + 1 : base + i + rot / 2;
                    double x0 = x[a], x1 = x[b];
                    x[a] = (float) (x0 * Math.cos(theta) - x1 * Math.sin(theta));
                    x[b] = (float) (x0 * Math.sin(theta) + x1 * Math.cos(theta));
                }
            }
        }
    }

    public static void softmax(float[] a, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, a[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(a[off + i] - max);
        }
        for (int i = 0; i < n; i++) {
            a[off + i] = (float) (Math.exp(a[off + i] - max) / sum);
        }
    }

    public static void swiglu(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            double g = gate[i];
            gate[i] = (float) (g / (1 + Math.exp(-g)) * up[i]);
        }
    }

    public static void add(float[] acc, float[] other, int n) {
        for (int i = 0; i < n; i++) {
            acc[i] += other[i];
        }
    }

    /**
     * Causal attention by definition: token t (position startPos + t), head h reads KV head
     * {@code h / groupSize}; scores {@code scale * q.k_p} for every cache row p &le; position;
     * softmax; weighted sum of the v_p. q and out are (n, headCount*headDim).
     */
    public static void attention(float[] out, float[] q, KvRows k, KvRows v, AttentionShape shape, int startPos, int n) {
        int hd = shape.headDim();
        int kvDim = shape.kvDim();
        float[] kRow = new float[kvDim];
        float[] vRow = new float[kvDim];
        for (int t = 0; t < n; t++) {
            int pos = startPos + t;
            for (int h = 0; h < shape.headCount(); h++) {
                int kvHead = h / shape.groupSize();
                double[] score = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    Quants.dequantize(k.type(), k.data(), p * k.rowBytes(), kRow, 0, kvDim);
                    double s = 0;
                    for (int d = 0; d < hd; d++) {
                        s += (double) q[t * shape.qDim() + h * hd + d] * kRow[kvHead * hd + d];
                    }
                    score[p] = s * shape.scale();
                    max = Math.max(max, score[p]);
                }
                double total = 0;
                for (int p = 0; p <= pos; p++) {
                    score[p] = Math.exp(score[p] - max);
                    total += score[p];
                }
                double[] acc = new double[hd];
                for (int p = 0; p <= pos; p++) {
                    Quants.dequantize(v.type(), v.data(), p * v.rowBytes(), vRow, 0, kvDim);
                    for (int d = 0; d < hd; d++) {
                        acc[d] += score[p] / total * vRow[kvHead * hd + d];
                    }
                }
                for (int d = 0; d < hd; d++) {
                    out[t * shape.qDim() + h * hd + d] = (float) acc[d];
                }
            }
        }
    }
}
