package dev.spillway.cpu.kernel;

import dev.spillway.engine.backend.AttentionShape;

/**
 * Causal grouped-query attention over a K/V cache, for one token and one KV head: the
 * {@code groupSize} query heads that share the KV head are done together, so each cache row is
 * decoded once. A head's slice {@code [g*headDim, (g+1)*headDim)} of a cache row may start inside a
 * quantization block; {@link KvRows#decode} decodes the covering blocks.
 */
public final class Attention {
    private Attention() {
    }

    /** Floats of score scratch {@link #attend} needs for {@code len} cache rows. */
    public static int scoreFloats(AttentionShape shape, int len) {
        return shape.groupSize() * len;
    }

    /**
     * For each query head h of KV head {@code g}: {@code out[oOff + h*hd ..] = softmax(scale * q_h . K_p)
     * . V_p} over cache rows {@code p < len}, with {@code q_h} at {@code q[qOff + h*hd ..]}.
     *
     * @param scores {@link #scoreFloats}{@code (shape, len)} floats of scratch
     * @param kBuf   {@code k.bufferFloats(headDim)} floats of scratch
     * @param vBuf   {@code v.bufferFloats(headDim)} floats of scratch
     */
    public static void attend(float[] out, int oOff, float[] q, int qOff, KvRows k, KvRows v, AttentionShape shape,
                              int g, int len, float[] scores, float[] kBuf, float[] vBuf) {
        int hd = shape.headDim();
        int gs = shape.groupSize();
        int e0 = g * hd;
        int h0 = g * gs;
        float[] lanes = new float[Simd.L];
        for (int p = 0; p < len; p++) {
            int ko = k.decode(p, e0, hd, kBuf);
            for (int j = 0; j < gs; j++) {
                scores[j * len + p] = VectorOps.dot(q, qOff + (h0 + j) * hd, kBuf, ko, hd, lanes) * shape.scale();
            }
        }
        for (int j = 0; j < gs; j++) {
            VectorOps.softmax(scores, j * len, len);
            java.util.Arrays.fill(out, oOff + (h0 + j) * hd, oOff + (h0 + j + 1) * hd, 0f);
        }
        for (int p = 0; p < len; p++) {
            int vo = v.decode(p, e0, hd, vBuf);
            for (int j = 0; j < gs; j++) {
                VectorOps.axpy(scores[j * len + p], vBuf, vo, out, oOff + (h0 + j) * hd, hd);
            }
        }
    }
}
