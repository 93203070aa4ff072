package dev.spillway.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The TornadoVM backend's kernels: Java methods that TornadoVM compiles to OpenCL C (or PTX/SPIR-V
 * where its SDK has those backends), written in its {@link KernelContext} style so that every launch
 * has an explicit grid and work-group.
 *
 * <p>Every kernel reads the backend's three heaps (and the decoders a table of powers of two, {@link #pow2Table}): {@code w} (weights in their GGUF block formats,
 * bytes), {@code s} (F32 state: activations, the RoPE table) and {@code kv} (KV caches in their
 * storage formats, bytes). Offsets into them and the launch's sizes come in {@code ip} (ints) and
 * {@code fp} (floats), which the host rewrites before each launch; so one compiled kernel serves
 * every tensor. The parameter layouts are the {@code P_*} constants.
 *
 * <p>Rules that TornadoVM imposes here: methods are compiled from their bytecode with local-variable
 * tables (the module is compiled with {@code -g}); F16 is decoded and encoded from its bits (PoCL has
 * no {@code cl_khr_fp16}); local arrays have constant sizes; reductions stay inside one work-group
 * (local memory and barriers), none reads another group's results. Decoding follows ggml's block
 * layouts, the same as the CPU backend's {@code Quants} and {@code native/kernels/spillway_kernels.inc}.
 *
 * <p>Not thread-safe by nature: a kernel runs on the device; the host side serializes launches.
 */
public final class TornadoKernels {
    private TornadoKernels() {
    }

    /** Work-group size of the row kernels (norm, matmul, attention). */
    public static final int WG = 32;
    /** Work-group size of the element-wise kernels. */
    public static final int EW_WG = 64;

    /** Weight and KV type codes ({@code ip} slots that say how to decode). */
    public static final int T_F32 = 0, T_F16 = 1, T_BF16 = 2, T_Q8_0 = 3, T_Q4_0 = 4, T_Q4_1 = 5, T_Q4_K = 6, T_Q5_K = 7,
            T_Q6_K = 8;

    /** Element-wise op codes. */
    public static final int EW_SWIGLU = 0, EW_ADD = 1, EW_COPY = 2;

    // ---- F32 / F16 / BF16 from and to their bits, by arithmetic -----------------------------------------
    //
    // TornadoVM 5.2.1's OpenCL backend cannot compile Float.intBitsToFloat or floatToRawIntBits whose
    // result feeds arithmetic ("unimplemented" ReinterpretNode), so the kernels decode and encode
    // floats from their fields: value = significand * 2^k, with 2^k read from a table p (pow2Table),
    // which is exact. Encoding finds the exponent with log2 and corrects it against the table, and
    // rounds to nearest even as Java's Float.floatToFloat16 and Quants.floatToBf16 do.

    /** Entries of {@link #pow2Table}: 2^k for k = -150 .. 128 (the ends are 0 and infinity in F32). */
    public static final int POW2_ENTRIES = 279;
    private static final int POW2_BIAS = 150;

    /** p[k + 150] = 2^k as F32, for the kernels' float codecs. */
    public static float[] pow2Table() {
        float[] t = new float[POW2_ENTRIES];
        for (int i = 0; i < t.length; i++) {
            t[i] = Math.scalb(1f, i - POW2_BIAS);
        }
        return t;
    }

    /** 2^k from the table, k in -150 .. 128. */
    static float p2(FloatArray p, int k) {
        return p.get(k + POW2_BIAS);
    }

    /** a * 2^k for k up to 254 (two table steps past 2^127). */
    static float scale(FloatArray p, float a, int k) {
        float r;
        if (k > 127) {
            r = a * p2(p, 127) * p2(p, k - 127);
        } else {
            r = a * p2(p, k);
        }
        return r;
    }

    /** floor(log2(a)) for a finite a &gt; 0, exact (log2's last-bit error corrected against the table). */
    static int exponent(FloatArray p, float a) {
        int e = (int) TornadoMath.floor(TornadoMath.log2(a));
        e = TornadoMath.max(-149, TornadoMath.min(127, e));
        if (a < p2(p, e)) {
            e = e - 1;
        }
        if (e < 127 && a >= p2(p, e + 1)) {
            e = e + 1;
        }
        return e;
    }

    /**
     * +infinity for m == 0, else NaN, from the table's last entry (TornadoVM 5.2.1 prints the
     * constants Float.NaN and infinity as undeclared OpenCL identifiers).
     */
    static float infinityOrNaN(FloatArray p, int m) {
        float inf = p2(p, 128);
        return m == 0 ? inf : inf - inf;
    }

    /** v rounded to the nearest integer, ties to even (v &gt;= 0). */
    static int roundEven(float v) {
        float r = TornadoMath.floor(v);
        float d = v - r;
        int q = (int) r;
        if (d > 0.5f || (d == 0.5f && (q & 1) == 1)) {
            q = q + 1;
        }
        return q;
    }

    /** Little-endian unsigned 16 bits at byte {@code off}. */
    static int u16(ByteArray b, int off) {
        return (b.get(off) & 0xFF) | ((b.get(off + 1) & 0xFF) << 8);
    }

    /** IEEE half bits to float (subnormals, infinities and NaNs included). */
    static float halfToFloat(FloatArray p, int h) {
        int e = (h >> 10) & 0x1F;
        int m = h & 0x3FF;
        float v;
        if (e == 0) {
            v = m * p2(p, -24);
        } else if (e == 31) {
            v = infinityOrNaN(p, m);
        } else {
            v = (1024 + m) * p2(p, e - 25);
        }
        return (h & 0x8000) != 0 ? -v : v;
    }

    static float f16(ByteArray b, FloatArray p, int off) {
        return halfToFloat(p, u16(b, off));
    }

    /** BF16 bits (the top half of an F32) to float. */
    static float bf16ToFloat(FloatArray p, int h) {
        int e = (h >> 7) & 0xFF;
        int m = h & 0x7F;
        float v;
        if (e == 0) {
            v = m * p2(p, -133);
        } else if (e == 255) {
            v = infinityOrNaN(p, m);
        } else {
            v = (128 + m) * p2(p, e - 134);
        }
        return (h & 0x8000) != 0 ? -v : v;
    }

    static float bf16(ByteArray b, FloatArray p, int off) {
        return bf16ToFloat(p, u16(b, off));
    }

    /** Little-endian F32 at byte {@code off}. */
    static float f32(ByteArray b, FloatArray p, int off) {
        int lo = u16(b, off);
        int hi = u16(b, off + 2);
        int e = (hi >> 7) & 0xFF;
        int m = ((hi & 0x7F) << 16) | lo;
        float v;
        if (e == 0) {
            v = m * p2(p, -149);
        } else if (e == 255) {
            v = infinityOrNaN(p, m);
        } else {
            v = (8388608 + m) * p2(p, e - 150);
        }
        return (hi & 0x8000) != 0 ? -v : v;
    }

    /** Float to IEEE half bits, rounding to nearest even (as Java's {@code Float.floatToFloat16}; -0 becomes +0). */
    static int floatToHalf(FloatArray p, float v) {
        float a = TornadoMath.abs(v);
        int out;
        if (v != v) {
            out = 0x7E00;
        } else if (a >= 65520f) {
            out = 0x7C00; // past the largest half (65504) by at least half a step: infinity
        } else if (a < 6.1035156E-5f) {
            out = roundEven(a * 16777216f); // subnormal: units of 2^-24 (1024 is the smallest normal's bits)
        } else {
            int e = exponent(p, a);
            out = ((e + 15) << 10) + roundEven(scale(p, a, 10 - e)) - 1024; // a carry moves into the exponent
        }
        return v < 0f ? out | 0x8000 : out;
    }

    /** F32 to BF16 bits, rounding to nearest even; NaN becomes the quiet NaN 0x7FC0; -0 becomes +0. */
    static int floatToBf16(FloatArray p, float v) {
        float a = TornadoMath.abs(v);
        int out;
        if (v != v) {
            out = 0x7FC0;
        } else if (a >= 3.3961775E38f) {
            out = 0x7F80; // (2 - 2^-8) * 2^127 and above round to infinity
        } else if (a < 1.17549435E-38f) {
            out = roundEven(scale(p, a, 133)); // subnormal: units of 2^-133
        } else {
            int e = exponent(p, a);
            out = ((e + 127) << 7) + roundEven(scale(p, a, 7 - e)) - 128;
        }
        return v < 0f ? out | 0x8000 : out;
    }

    /** F32 bits of v, exactly (NaN becomes the quiet NaN 0x7FC00000; -0 becomes +0). */
    static int floatToBits(FloatArray p, float v) {
        float a = TornadoMath.abs(v);
        int out;
        if (v != v) {
            out = 0x7FC00000;
        } else if (a > 3.4028235E38f) {
            out = 0x7F800000;
        } else if (a < 1.17549435E-38f) {
            out = (int) scale(p, a, 149); // subnormal: units of 2^-149, exact
        } else {
            int e = exponent(p, a);
            out = ((e + 127) << 23) + (int) scale(p, a, 23 - e) - 8388608;
        }
        return v < 0f ? out | 0x80000000 : out;
    }

    static void put16(ByteArray b, int off, int v) {
        b.set(off, (byte) (v & 0xFF));
        b.set(off + 1, (byte) ((v >> 8) & 0xFF));
    }

    // ---- weight decoding: the dot product of one chunk of 32 elements with x ---------------------------

    // Offsets of unsigned nibbles (q - 8, q - 32) are taken in float: TornadoVM 5.2.1 types a masked
    // byte as unsigned and subtracts without wrapping back to a signed int.
    //
    // One method per block layout, each the dot product of one chunk of 32 weights with x[x ..
    // x+31]: chunk = block for Q8_0, Q4_0, Q4_1; a sub-block of 32 of a super-block of 256 for the
    // K-quants. The matmul kernel picks the method per type in its own loop: TornadoVM inlines every
    // call and refuses a method past a size limit, which one method over all layouts exceeds.

    /** block_q8_0 { ggml_half d; int8_t qs[32]; }: 34 bytes at b. */
    static float dotQ8_0(ByteArray w, FloatArray p, int b, FloatArray s, int x) {
        float sum = 0f;
        for (int j = 0; j < 32; j++) {
            sum += w.get(b + 2 + j) * s.get(x + j);
        }
        return sum * f16(w, p, b);
    }

    /** block_q4_0 { ggml_half d; uint8_t qs[16]; }: element j is the low nibble of qs[j], j + 16 the high; value (q - 8) * d. */
    static float dotQ4_0(ByteArray w, FloatArray p, int b, FloatArray s, int x) {
        float sum = 0f;
        for (int j = 0; j < 16; j++) {
            int q = w.get(b + 2 + j) & 0xFF;
            sum += ((q & 15) - 8f) * s.get(x + j) + ((q >> 4) - 8f) * s.get(x + j + 16);
        }
        return sum * f16(w, p, b);
    }

    /** block_q4_1 { ggml_half d; ggml_half m; uint8_t qs[16]; }: value q * d + m. */
    static float dotQ4_1(ByteArray w, FloatArray p, int b, FloatArray s, int x) {
        float sum = 0f;
        float xs = 0f;
        for (int j = 0; j < 16; j++) {
            int q = w.get(b + 4 + j) & 0xFF;
            float x0 = s.get(x + j);
            float x1 = s.get(x + j + 16);
            sum += (q & 15) * x0 + (q >> 4) * x1;
            xs += x0 + x1;
        }
        return sum * f16(w, p, b) + xs * f16(w, p, b + 2);
    }

    /**
     * block_q4_K { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]; }: 144 bytes;
     * block_q5_K { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; }: 176.
     * Sub-block sub = c % 8 of super-block c / 8: value d * scale * q - dmin * min (6-bit scale and min
     * as ggml's get_scale_min_k4).
     */
    static float dotQ45_K(ByteArray w, FloatArray p, int row, int five, int c, FloatArray s, int x) {
        int b = row + (c >> 3) * (five == 1 ? 176 : 144);
        int sub = c & 7;
        int q = b + 4; // scales
        int sc;
        int mn;
        if (sub < 4) {
            sc = w.get(q + sub) & 63;
            mn = w.get(q + sub + 4) & 63;
        } else {
            sc = (w.get(q + sub + 4) & 0xF) | (((w.get(q + sub - 4) & 0xFF) >> 6) << 4);
            mn = ((w.get(q + sub + 4) & 0xFF) >> 4) | (((w.get(q + sub) & 0xFF) >> 6) << 4);
        }
        int group = b + (five == 1 ? 48 : 16) + 32 * (sub >> 1);
        int shift = (sub & 1) * 4;
        float sum = 0f;
        float xs = 0f;
        for (int l = 0; l < 32; l++) {
            int v = ((w.get(group + l) & 0xFF) >> shift) & 15;
            if (five == 1) {
                v |= (((w.get(b + 16 + l) & 0xFF) >> sub) & 1) << 4;
            }
            float xv = s.get(x + l);
            sum += v * xv;
            xs += xv;
        }
        return f16(w, p, b) * sc * sum - f16(w, p, b + 2) * mn * xs;
    }

    /**
     * block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; }: 210 bytes at b.
     * Chunk c is quarter k = c % 4 of half h = (c % 8) / 4; value d * scale * (q - 32).
     */
    static float dotQ6_K(ByteArray w, FloatArray p, int b, int c, FloatArray s, int x) {
        int h = (c >> 2) & 1;
        int k = c & 3;
        int lo = b + 64 * h + 32 * (k & 1);
        int hi = b + 128 + 32 * h;
        int scales = b + 192 + 8 * h + 2 * k;
        int loShift = 4 * (k >> 1);
        int hiShift = 2 * k;
        float sum0 = 0f;
        float sum1 = 0f;
        for (int l = 0; l < 16; l++) {
            int v = (((w.get(lo + l) & 0xFF) >> loShift) & 15) | ((((w.get(hi + l) & 0xFF) >> hiShift) & 3) << 4);
            sum0 += (v - 32f) * s.get(x + l);
            int v1 = (((w.get(lo + l + 16) & 0xFF) >> loShift) & 15) | ((((w.get(hi + l + 16) & 0xFF) >> hiShift) & 3) << 4);
            sum1 += (v1 - 32f) * s.get(x + l + 16);
        }
        return f16(w, p, b + 208) * (w.get(scales) * sum0 + w.get(scales + 1) * sum1);
    }

    /** Element i of a row of a plain float type (F32, F16, BF16) starting at byte {@code row}. */
    static float floatElement(ByteArray w, FloatArray p, int row, int type, int i) {
        float v;
        if (type < T_F16) {
            v = f32(w, p, row + 4 * i);
        } else if (type < T_BF16) {
            v = f16(w, p, row + 2 * i);
        } else {
            v = bf16(w, p, row + 2 * i);
        }
        return v;
    }

    /** Element i of a KV row (any cache type; a head's slice may start inside a block). Ranges, not equalities: see matmul. */
    static float kvElement(ByteArray kv, FloatArray p, int row, int type, int i) {
        float v;
        if (type < T_Q8_0) {
            v = floatElement(kv, p, row, type, i);
        } else if (type < T_Q4_0) {
            int b = row + (i >> 5) * 34;
            v = kv.get(b + 2 + (i & 31)) * f16(kv, p, b);
        } else {
            int b = row + (i >> 5) * 18;
            int j = i & 31;
            int q = kv.get(b + 2 + (j & 15)) & 0xFF;
            q = j < 16 ? (q & 15) : (q >> 4);
            v = (q - 8f) * f16(kv, p, b);
        }
        return v;
    }

    // Reductions over a work-group are written out in each kernel: TornadoVM 5.2.1 indexes a local
    // array passed to a helper method as if it were a global array (byte offsets past its header),
    // which corrupts local memory; inline, the indexing is right.

    // ---- kernels ----------------------------------------------------------------------------------

    /** ip of {@link #rmsNorm}: out, in (float offsets), gamma (byte offset of an F32 weight), dim. fp: eps. */
    public static final int P_NORM_OUT = 0, P_NORM_IN = 1, P_NORM_GAMMA = 2, P_NORM_DIM = 3;

    /**
     * out (n, dim) = in (n, dim) / sqrt(mean(in^2) + eps) * gamma (dim). Grid (n * WG), groups of WG:
     * one token row per group. out may be in.
     */
    public static void rmsNorm(KernelContext ctx, ByteArray w, FloatArray s, FloatArray p, IntArray ip, FloatArray fp) {
        float[] red = ctx.allocateFloatLocalArray(WG);
        int lid = ctx.localIdx;
        int t = ctx.groupIdx;
        int dim = ip.get(P_NORM_DIM);
        int in = ip.get(P_NORM_IN) + t * dim;
        int out = ip.get(P_NORM_OUT) + t * dim;
        int gamma = ip.get(P_NORM_GAMMA);
        float ss = 0f;
        for (int i = lid; i < dim; i += WG) {
            float x = s.get(in + i);
            ss += x * x;
        }
        red[lid] = ss;
        ctx.localBarrier();
        for (int st = WG / 2; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        ss = red[0];
        ctx.localBarrier();
        float scale = 1f / TornadoMath.sqrt(ss / dim + fp.get(0));
        for (int i = lid; i < dim; i += WG) {
            s.set(out + i, s.get(in + i) * scale * f32(w, p, gamma + 4 * i));
        }
    }

    /** ip of {@link #matmul}: out, in (float offsets), weight (byte offset), row bytes, rows, cols, type. */
    public static final int P_MM_OUT = 0, P_MM_IN = 1, P_MM_W = 2, P_MM_ROW_BYTES = 3, P_MM_ROWS = 4, P_MM_COLS = 5,
            P_MM_TYPE = 6;

    /**
     * out (n, rows) = in (n, cols) x W^T. Grid (rows * WG, n), groups of (WG, 1): group (r, t) computes
     * output (t, r); its items take 32-element chunks (block types) or elements (float types) in turn,
     * and meet in a local-memory sum.
     */
    public static void matmul(KernelContext ctx, ByteArray w, FloatArray s, FloatArray p, IntArray ip) {
        float[] red = ctx.allocateFloatLocalArray(WG);
        int lid = ctx.localIdx;
        int r = ctx.groupIdx;
        int t = ctx.groupIdy;
        int cols = ip.get(P_MM_COLS);
        int type = ip.get(P_MM_TYPE);
        int row = ip.get(P_MM_W) + r * ip.get(P_MM_ROW_BYTES);
        int x = ip.get(P_MM_IN) + t * cols;
        // Dispatch by ranges, not by equality (Graal folds an equality chain into a switch), and each
        // branch leaves its sum in local memory: TornadoVM 5.2.1's OpenCL code for a float merged
        // from many branches keeps the wrong one.
        if (type < T_Q8_0) {
            if (type < T_F16) {
                float a = 0f;
                for (int i = lid; i < cols; i += WG) {
                    a += f32(w, p, row + 4 * i) * s.get(x + i);
                }
                red[lid] = a;
            } else if (type < T_BF16) {
                float a = 0f;
                for (int i = lid; i < cols; i += WG) {
                    a += f16(w, p, row + 2 * i) * s.get(x + i);
                }
                red[lid] = a;
            } else {
                float a = 0f;
                for (int i = lid; i < cols; i += WG) {
                    a += bf16(w, p, row + 2 * i) * s.get(x + i);
                }
                red[lid] = a;
            }
        } else if (type < T_Q4_1) {
            if (type < T_Q4_0) {
                float a = 0f;
                for (int c = lid; c < cols / 32; c += WG) {
                    a += dotQ8_0(w, p, row + c * 34, s, x + 32 * c);
                }
                red[lid] = a;
            } else {
                float a = 0f;
                for (int c = lid; c < cols / 32; c += WG) {
                    a += dotQ4_0(w, p, row + c * 18, s, x + 32 * c);
                }
                red[lid] = a;
            }
        } else if (type < T_Q4_K) {
            float a = 0f;
            for (int c = lid; c < cols / 32; c += WG) {
                a += dotQ4_1(w, p, row + c * 20, s, x + 32 * c);
            }
            red[lid] = a;
        } else if (type < T_Q6_K) {
            int five = type - T_Q4_K;
            float a = 0f;
            for (int c = lid; c < cols / 32; c += WG) {
                a += dotQ45_K(w, p, row, five, c, s, x + 32 * c);
            }
            red[lid] = a;
        } else {
            float a = 0f;
            for (int c = lid; c < cols / 32; c += WG) {
                a += dotQ6_K(w, p, row + (c >> 3) * 210, c, s, x + 32 * c);
            }
            red[lid] = a;
        }
        ctx.localBarrier();
        for (int st = WG / 2; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        if (lid == 0) {
            s.set(ip.get(P_MM_OUT) + t * ip.get(P_MM_ROWS) + r, red[0]);
        }
    }

    /** ip of {@link #rope}: x (float offset), heads, head dim, rot, neox (0/1). table: (n, rot/2, 2) cos, sin. */
    public static final int P_ROPE_X = 0, P_ROPE_HEADS = 1, P_ROPE_HEAD_DIM = 2, P_ROPE_ROT = 3, P_ROPE_NEOX = 4;

    /**
     * Rotary embedding in place on x (n, heads * headDim): pair p of a head is (2p, 2p+1), or (p,
     * p + rot/2) in the NeoX style; elements past rot stay. Grid (heads * rot/2 rounded up to EW_WG, n).
     */
    public static void rope(KernelContext ctx, FloatArray s, FloatArray table, IntArray ip) {
        int pairs = ip.get(P_ROPE_ROT) >> 1;
        int heads = ip.get(P_ROPE_HEADS);
        int headDim = ip.get(P_ROPE_HEAD_DIM);
        int i = ctx.globalIdx;
        int t = ctx.groupIdy;
        if (i < heads * pairs) {
            int h = i / pairs;
            int p = i - h * pairs;
            float c = table.get((t * pairs + p) * 2);
            float sn = table.get((t * pairs + p) * 2 + 1);
            int head = ip.get(P_ROPE_X) + t * heads * headDim + h * headDim;
            int a = ip.get(P_ROPE_NEOX) != 0 ? p : 2 * p;
            int b = ip.get(P_ROPE_NEOX) != 0 ? p + pairs : 2 * p + 1;
            float x0 = s.get(head + a);
            float x1 = s.get(head + b);
            s.set(head + a, x0 * c - x1 * sn);
            s.set(head + b, x1 * c + x0 * sn);
        }
    }

    /** ip of {@link #elementwise}: a, b (float offsets), count, op. */
    public static final int P_EW_A = 0, P_EW_B = 1, P_EW_COUNT = 2, P_EW_OP = 3;

    /**
     * Element-wise on count floats: swiglu a = silu(a) * b; add a += b; copy a = b. Grid (count rounded
     * up to EW_WG).
     */
    public static void elementwise(KernelContext ctx, FloatArray s, IntArray ip) {
        int i = ctx.globalIdx;
        if (i < ip.get(P_EW_COUNT)) {
            int a = ip.get(P_EW_A) + i;
            float b = s.get(ip.get(P_EW_B) + i);
            int op = ip.get(P_EW_OP);
            if (op == EW_SWIGLU) {
                float g = s.get(a);
                s.set(a, g / (1f + TornadoMath.exp(-g)) * b);
            } else if (op == EW_ADD) {
                s.set(a, s.get(a) + b);
            } else {
                s.set(a, b);
            }
        }
    }

    /** ip of {@link #kvStore}: K row 0, V row 0 (byte offsets), k, v (float offsets), kvDim, K and V row bytes and types, side groups, startPos. */
    public static final int P_KV_KC = 0, P_KV_VC = 1, P_KV_K = 2, P_KV_V = 3, P_KV_DIM = 4, P_KV_KROW = 5, P_KV_VROW = 6,
            P_KV_KTYPE = 7, P_KV_VTYPE = 8, P_KV_SIDE_GROUPS = 9, P_KV_START = 10;

    /**
     * Cache rows startPos .. startPos+n-1 of K and V = k and v (n, kvDim), a token's whole row
     * quantized at once. Plain types: one element per item; Q8_0/Q4_0: one block of 32 per item.
     * Grid (2 * sideGroups * EW_WG, n): the first sideGroups groups store K, the next V.
     */
    public static void kvStore(KernelContext ctx, ByteArray kv, FloatArray s, FloatArray p, IntArray ip) {
        int sideGroups = ip.get(P_KV_SIDE_GROUPS);
        int g = ctx.groupIdx;
        int side = g >= sideGroups ? 1 : 0;
        int i = (g - side * sideGroups) * EW_WG + ctx.localIdx;
        int t = ctx.groupIdy;
        int kvDim = ip.get(P_KV_DIM);
        int type = side == 1 ? ip.get(P_KV_VTYPE) : ip.get(P_KV_KTYPE);
        int pos = ip.get(P_KV_START) + t;
        int row = side == 1 ? ip.get(P_KV_VC) + pos * ip.get(P_KV_VROW) : ip.get(P_KV_KC) + pos * ip.get(P_KV_KROW);
        int x = (side == 1 ? ip.get(P_KV_V) : ip.get(P_KV_K)) + t * kvDim;
        int width = type >= T_Q8_0 ? 32 : 1;
        if (i * width < kvDim) {
            if (type < T_F16) {
                int bits = floatToBits(p, s.get(x + i));
                put16(kv, row + 4 * i, bits & 0xFFFF);
                put16(kv, row + 4 * i + 2, (bits >> 16) & 0xFFFF);
            } else if (type < T_BF16) {
                put16(kv, row + 2 * i, floatToHalf(p, s.get(x + i)));
            } else if (type < T_Q8_0) {
                put16(kv, row + 2 * i, floatToBf16(p, s.get(x + i)));
            } else if (type < T_Q4_0) {
                // d = amax / 127 as F16, q = round(x / d) clamped to [-127, 127]
                int xb = x + 32 * i;
                int b = row + 34 * i;
                float amax = 0f;
                for (int j = 0; j < 32; j++) {
                    amax = TornadoMath.max(amax, TornadoMath.abs(s.get(xb + j)));
                }
                int dh = floatToHalf(p, amax / 127f);
                put16(kv, b, dh);
                float d = halfToFloat(p, dh);
                float id = d == 0f ? 0f : 1f / d;
                for (int j = 0; j < 32; j++) {
                    kv.set(b + 2 + j, (byte) roundClamp(s.get(xb + j) * id, -127f, 127f));
                }
            } else {
                // ggml's q4_0: the element of largest magnitude xm sets d = xm / -8
                int xb = x + 32 * i;
                int b = row + 18 * i;
                float amax = 0f;
                float xm = 0f;
                for (int j = 0; j < 32; j++) {
                    float a = TornadoMath.abs(s.get(xb + j));
                    if (a > amax) {
                        amax = a;
                        xm = s.get(xb + j);
                    }
                }
                int dh = floatToHalf(p, xm / -8f);
                put16(kv, b, dh);
                float d = halfToFloat(p, dh);
                float id = d == 0f ? 0f : 1f / d;
                for (int j = 0; j < 16; j++) {
                    int lo = roundClamp(s.get(xb + j) * id, -8f, 7f) + 8;
                    int hi = roundClamp(s.get(xb + j + 16) * id, -8f, 7f) + 8;
                    kv.set(b + 2 + j, (byte) (lo | (hi << 4)));
                }
            }
        }
    }

    /** floor(v + 0.5) clamped to [lo, hi] (Java's Math.round on the clamped range). */
    static int roundClamp(float v, float lo, float hi) {
        float r = TornadoMath.floor(v + 0.5f);
        return (int) TornadoMath.min(hi, TornadoMath.max(lo, r));
    }

    /** ip of {@link #attention}: out, q (float offsets), K row 0, V row 0 (byte offsets), row bytes, heads, KV heads, head dim, startPos, types. fp: scale. */
    public static final int P_AT_OUT = 0, P_AT_Q = 1, P_AT_KC = 2, P_AT_VC = 3, P_AT_KROW = 4, P_AT_VROW = 5, P_AT_HEADS = 6,
            P_AT_KV_HEADS = 7, P_AT_HEAD_DIM = 8, P_AT_START = 9, P_AT_KTYPE = 10, P_AT_VTYPE = 11;

    /**
     * Causal grouped-query attention. Grid (heads * WG, n): group (h, t) attends keys 0 .. startPos+t
     * of KV head h / (heads / kvHeads) in tiles of WG keys with an online softmax. Item j scores key
     * p0 + j; the output row's head slice is the accumulator, item j owning dimensions j, j + WG, ...
     */
    public static void attention(KernelContext ctx, ByteArray kv, FloatArray s, FloatArray p, IntArray ip, FloatArray fp) {
        float[] red = ctx.allocateFloatLocalArray(WG);
        float[] weights = ctx.allocateFloatLocalArray(WG);
        int lid = ctx.localIdx;
        int h = ctx.groupIdx;
        int t = ctx.groupIdy;
        int heads = ip.get(P_AT_HEADS);
        int headDim = ip.get(P_AT_HEAD_DIM);
        int kvHead = h / (heads / ip.get(P_AT_KV_HEADS));
        int e0 = kvHead * headDim;
        int qh = ip.get(P_AT_Q) + t * heads * headDim + h * headDim;
        int oh = ip.get(P_AT_OUT) + t * heads * headDim + h * headDim;
        int kc = ip.get(P_AT_KC);
        int vc = ip.get(P_AT_VC);
        int kRow = ip.get(P_AT_KROW);
        int vRow = ip.get(P_AT_VROW);
        int kType = ip.get(P_AT_KTYPE);
        int vType = ip.get(P_AT_VTYPE);
        float scale = fp.get(0);
        int keys = ip.get(P_AT_START) + t + 1;
        for (int d = lid; d < headDim; d += WG) {
            s.set(oh + d, 0f);
        }
        float m = -3.4028235e38f;
        float l = 0f;
        for (int p0 = 0; p0 < keys; p0 += WG) {
            int key = p0 + lid;
            float sc = -3.4028235e38f;
            if (key < keys) {
                float dot = 0f;
                for (int d = 0; d < headDim; d++) {
                    dot += s.get(qh + d) * kvElement(kv, p, kc + key * kRow, kType, e0 + d);
                }
                sc = dot * scale;
            }
            red[lid] = sc;
            ctx.localBarrier();
            for (int st = WG / 2; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] = TornadoMath.max(red[lid], red[lid + st]);
                }
                ctx.localBarrier();
            }
            float mNew = TornadoMath.max(m, red[0]);
            ctx.localBarrier();
            float wt = key < keys ? TornadoMath.exp(sc - mNew) : 0f;
            weights[lid] = wt;
            red[lid] = wt;
            ctx.localBarrier();
            for (int st = WG / 2; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] += red[lid + st];
                }
                ctx.localBarrier();
            }
            float tileSum = red[0];
            ctx.localBarrier();
            float corr = TornadoMath.exp(m - mNew);
            l = l * corr + tileSum;
            int tile = TornadoMath.min(WG, keys - p0);
            for (int d = lid; d < headDim; d += WG) {
                float a = s.get(oh + d) * corr;
                for (int j = 0; j < tile; j++) {
                    a += weights[j] * kvElement(kv, p, vc + (p0 + j) * vRow, vType, e0 + d);
                }
                s.set(oh + d, a);
            }
            m = mNew;
            ctx.localBarrier();
        }
        float inv = 1f / l;
        for (int d = lid; d < headDim; d += WG) {
            s.set(oh + d, s.get(oh + d) * inv);
        }
    }

    /** ip of the copies between a heap and a staging array: heap offset, count. */
    public static final int P_IO_OFF = 0, P_IO_COUNT = 1;

    /** s[off + i] = io[i] for i &lt; count. Grid (count rounded up to EW_WG). */
    public static void floatsIn(KernelContext ctx, FloatArray s, FloatArray io, IntArray ip) {
        int i = ctx.globalIdx;
        if (i < ip.get(P_IO_COUNT)) {
            s.set(ip.get(P_IO_OFF) + i, io.get(i));
        }
    }

    /** io[i] = s[off + i] for i &lt; count. */
    public static void floatsOut(KernelContext ctx, FloatArray s, FloatArray io, IntArray ip) {
        int i = ctx.globalIdx;
        if (i < ip.get(P_IO_COUNT)) {
            io.set(i, s.get(ip.get(P_IO_OFF) + i));
        }
    }

    /** kv[off + i] = io[i] for i &lt; count (raw cache rows). */
    public static void bytesIn(KernelContext ctx, ByteArray kv, ByteArray io, IntArray ip) {
        int i = ctx.globalIdx;
        if (i < ip.get(P_IO_COUNT)) {
            kv.set(ip.get(P_IO_OFF) + i, io.get(i));
        }
    }

    /** io[i] = kv[off + i] for i &lt; count. */
    public static void bytesOut(KernelContext ctx, ByteArray kv, ByteArray io, IntArray ip) {
        int i = ctx.globalIdx;
        if (i < ip.get(P_IO_COUNT)) {
            io.set(i, kv.get(ip.get(P_IO_OFF) + i));
        }
    }

    /** Touches a byte heap so that a graph allocates and uploads it (the heaps' first graph). */
    public static void touchBytes(KernelContext ctx, ByteArray a, IntArray ip) {
        if (ctx.globalIdx == 0 && ip.get(0) < 0) {
            a.set(0, a.get(0));
        }
    }

    /** Touches a float heap (see {@link #touchBytes}). */
    public static void touchFloats(KernelContext ctx, FloatArray a, IntArray ip) {
        if (ctx.globalIdx == 0 && ip.get(0) < 0) {
            a.set(0, a.get(0));
        }
    }
}
