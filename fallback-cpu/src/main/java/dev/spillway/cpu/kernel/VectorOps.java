package dev.spillway.cpu.kernel;

import static dev.spillway.cpu.kernel.Simd.F;
import static dev.spillway.cpu.kernel.Simd.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Vectorized element-wise and row kernels on float arrays: RMSNorm, RoPE, softmax, SwiGLU, add. */
public final class VectorOps {
    private VectorOps() {
    }

    private static FloatVector load(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    /** {@code a[ao..ao+n) . b[bo..bo+n)}; {@code lanes} is scratch of {@code L} floats. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) {
            acc = load(a, ao + i).fma(load(b, bo + i), acc);
        }
        acc.intoArray(lanes, 0);
        float s = Simd.sumLanes(lanes, 0);
        for (; i < n; i++) {
            s = Math.fma(a[ao + i], b[bo + i], s);
        }
        return s;
    }

    /** {@code y[yo..yo+n) += alpha * x[xo..xo+n)}. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i + L <= n; i += L) {
            load(x, xo + i).fma(va, load(y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = Math.fma(x[xo + i], alpha, y[yo + i]);
        }
    }

    /**
     * {@code out[oo..oo+dim) = in[io..] / sqrt(mean(in^2) + eps) * gamma}, gamma being {@code dim} F32
     * values (little-endian) at {@code gamma[0..]}. {@code out} may be {@code in}.
     */
    public static void rmsNorm(float[] out, int oo, float[] in, int io, MemorySegment gamma, int dim, float eps) {
        float ss = dot(in, io, in, io, dim, new float[L]);
        float scale = (float) (1.0 / Math.sqrt((double) ss / dim + eps));
        int i = 0;
        for (; i + L <= dim; i += L) {
            FloatVector g = Simd.loadFloats(gamma, 4L * i);
            load(in, io + i).mul(scale).mul(g).intoArray(out, oo + i);
        }
        for (; i < dim; i++) {
            out[oo + i] = in[io + i] * scale * gamma.get(Simd.LE_FLOAT, 4L * i);
        }
    }

    /** In place: {@code a[off..off+n) = exp(a - max) / sum(exp(a - max))}. */
    public static void softmax(float[] a, int off, int n) {
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= n; i += L) {
            vmax = vmax.max(load(a, off + i));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX); // max is exact in any order
        for (; i < n; i++) {
            max = Math.max(max, a[off + i]);
        }
        FloatVector vsum = FloatVector.zero(F);
        i = 0;
        for (; i + L <= n; i += L) {
            FloatVector e = load(a, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(a, off + i);
            vsum = vsum.add(e);
        }
        float[] lanes = new float[L];
        vsum.intoArray(lanes, 0);
        float sum = Simd.sumLanes(lanes, 0);
        for (; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - max);
            a[off + i] = e;
            sum += e;
        }
        scale(a, off, n, 1 / sum);
    }

    /** {@code a[off..off+n) *= s}. */
    public static void scale(float[] a, int off, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) {
            load(a, off + i).mul(s).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= s;
        }
    }

    /** In place: {@code gate = silu(gate) * up = gate / (1 + exp(-gate)) * up} over {@code n} elements. */
    public static void swiglu(float[] gate, int go, float[] up, int uo, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector g = load(gate, go + i);
            FloatVector denominator = g.neg().lanewise(VectorOperators.EXP).add(1f);
            g.div(denominator).mul(load(up, uo + i)).intoArray(gate, go + i);
        }
        for (; i < n; i++) {
            float g = gate[go + i];
            gate[go + i] = g / (1 + (float) Math.exp(-g)) * up[uo + i];
        }
    }

    /** {@code acc[ao..ao+n) += other[oo..]}. */
    public static void add(float[] acc, int ao, float[] other, int oo, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            load(acc, ao + i).add(load(other, oo + i)).intoArray(acc, ao + i);
        }
        for (; i < n; i++) {
            acc[ao + i] += other[oo + i];
        }
    }

    /**
     * Rotates the first {@code rot} elements of {@code heads} heads of {@code headDim} elements at
     * {@code x[off..]}, with the angle table {@link RopeTable#fill} wrote into {@code cs}.
     */
    public static void rope(float[] x, int off, int heads, int headDim, RopeTable table, float[] cs) {
        int rot = table.rotatedDims();
        if (table.interleaved()) {
            // cs = cos(theta_{j/2}) for j < rot, then -sin / +sin for even / odd j:
            // y = x * cos + swapPairs(x) * signedSin, i.e. (x0 c - x1 s, x1 c + x0 s) per pair.
            for (int h = 0; h < heads; h++) {
                int b = off + h * headDim;
                int j = 0;
                for (; j + L <= rot; j += L) {
                    FloatVector v = load(x, b + j);
                    FloatVector swapped = v.rearrange(Simd.SWAP_PAIRS);
                    v.mul(load(cs, j)).add(swapped.mul(load(cs, rot + j))).intoArray(x, b + j);
                }
                for (; j < rot; j += 2) {
                    float x0 = x[b + j], x1 = x[b + j + 1];
                    x[b + j] = x0 * cs[j] + x1 * cs[rot + j];
                    x[b + j + 1] = x1 * cs[j + 1] + x0 * cs[rot + j + 1];
                }
            }
        } else {
            // NEOX: pair (i, i + rot/2); cs = cos(theta_i) for i < rot/2, then sin(theta_i).
            int half = rot / 2;
            for (int h = 0; h < heads; h++) {
                int b = off + h * headDim;
                int i = 0;
                for (; i + L <= half; i += L) {
                    FloatVector x0 = load(x, b + i), x1 = load(x, b + half + i);
                    FloatVector c = load(cs, i), s = load(cs, half + i);
                    x0.mul(c).sub(x1.mul(s)).intoArray(x, b + i);
                    x0.mul(s).add(x1.mul(c)).intoArray(x, b + half + i);
                }
                for (; i < half; i++) {
                    float x0 = x[b + i], x1 = x[b + half + i];
                    float c = cs[i], s = cs[half + i];
                    x[b + i] = x0 * c - x1 * s;
                    x[b + half + i] = x0 * s + x1 * c;
                }
            }
        }
    }
}
