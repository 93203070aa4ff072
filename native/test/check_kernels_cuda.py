"""Checks the CUDA build of the Spillway kernels on a real GPU against independent numpy references.

Usage (on a machine with an NVIDIA GPU, nvcc, CuPy and numpy):
    nvcc -ptx -arch=compute_80 native/spillway.cu -o /tmp/spillway.ptx
    python3 native/test/check_kernels_cuda.py /tmp/spillway.ptx

It launches the kernels with the geometry and argument order DeviceBackend uses: mat-vec (one token)
and tiled matmul (batches) in every weight type (random GGUF blocks, decoded here by the layouts quoted in Quants.java), rms_norm, rope
(both styles, partial rotation), swiglu, add, copy_rows, kv_store in every KV type (F16 and Q8_0
bit for bit), and attention over more keys than one tile with GQA, head sizes 8/32/64 and mixed
K/V types, and the one-token split attention with its combination over 700 keys. Tolerances: relative to the largest reference magnitude, printed per check. Exits 1 on
a failure. Verified on an H100 (PTX JIT-compiled from compute_80) before the mat-vec, tiled matmul and
split attention were added (2026-11-30); those checks have not run on a GPU yet.
"""
import cupy as cp, numpy as np, sys
M = cp.RawModule(path=sys.argv[1])
R = np.random.default_rng(7)
F = []
def chk(n, g, e, tol):
    err = float(np.max(np.abs(g - e)) / max(1e-30, np.max(np.abs(e))))
    print("%-34s rel %.2e %s" % (n, err, "ok" if err <= tol else "FAIL"))
    if not err <= tol: F.append(n)
def run(k, grid, blk, *a): M.get_function(k)(grid, blk, a)
h16 = lambda a: np.asarray(a, np.float16).view(np.uint8).reshape(-1, 2)
def f16(b, o): return b[:, o:o+2].copy().view(np.float16)[:, 0].astype(np.float32)
def blocks(nb, bb, hoffs):
    b = R.integers(0, 256, (nb, bb), dtype=np.uint8)
    for o in hoffs: b[:, o:o+2] = h16(R.uniform(0.005, 0.05, nb))
    return b
def smk(s, j):
    if j < 4: return s[:, j] & 63, s[:, j+4] & 63
    return (s[:, j+4] & 15) | ((s[:, j-4] >> 6) << 4), (s[:, j+4] >> 4) | ((s[:, j] >> 6) << 4)
def dec(t, b):
    n = b.shape[0]
    if t == 'q8_0': return b[:, 2:].view(np.int8).astype(np.float32) * f16(b, 0)[:, None]
    if t in ('q4_0', 'q4_1'):
        o = 2 if t == 'q4_0' else 4; q = b[:, o:o+16]
        v = np.concatenate([q & 15, q >> 4], 1).astype(np.float32)
        return (v - 8) * f16(b, 0)[:, None] if t == 'q4_0' else v * f16(b, 0)[:, None] + f16(b, 2)[:, None]
    if t in ('q4_k', 'q5_k'):
        out = np.zeros((n, 256), np.float32); qs = 48 if t == 'q5_k' else 16
        for s in range(8):
            sc, m = smk(b[:, 4:16].astype(np.int32), s)
            q = (b[:, qs + 32*(s >> 1):qs + 32*(s >> 1) + 32].astype(np.int32) >> (4*(s & 1))) & 15
            if t == 'q5_k': q |= ((b[:, 16:48].astype(np.int32) >> s) & 1) << 4
            out[:, 32*s:32*s+32] = (f16(b, 0)*sc)[:, None]*q - (f16(b, 2)*m)[:, None]
        return out
    out = np.zeros((n, 256), np.float32); sc = b[:, 192:208].view(np.int8).astype(np.float32); d = f16(b, 208)
    for e in range(256):
        h, k, l = e // 128, (e % 128) // 32, e % 32
        lo = (b[:, 64*h + l + 32*(k & 1)].astype(np.int32) >> (4*(k >> 1))) & 15
        hi = (b[:, 128 + 32*h + l].astype(np.int32) >> (2*k)) & 3
        out[:, e] = d*sc[:, e // 16]*((lo | hi << 4) - 32)
    return out
GEO = {'q8_0': (32, 34, [0]), 'q4_0': (32, 18, [0]), 'q4_1': (32, 20, [0, 2]), 'q4_k': (256, 144, [0, 2]),
       'q5_k': (256, 176, [0, 2]), 'q6_k': (256, 210, [208])}
def weight(t, rows, cols):
    if t == 'f32': w = R.standard_normal((rows, cols)).astype(np.float32); return w.view(np.uint8), w
    if t == 'f16': w = R.standard_normal((rows, cols)).astype(np.float16); return w.view(np.uint8), w.astype(np.float32)
    if t == 'bf16':
        w = R.integers(0x3c00, 0x4080, (rows, cols), dtype=np.uint16) | (R.integers(0, 2, (rows, cols), dtype=np.uint16) << 15)
        return w.view(np.uint8), (w.astype(np.uint32) << 16).view(np.float32)
    be, bb, ho = GEO[t]; b = blocks(rows*cols // be, bb, ho)
    return b.reshape(rows, -1), dec(t, b).reshape(rows, cols)
for t in ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q4_k', 'q5_k', 'q6_k']:
    for rows, cols, ns in [(37, 100 if t[0] in 'fb' else 512, (1, 11, 33)),
                           (70, 1100 if t[0] in 'fb' else 1280, (1, 2))]:   # past one staged tile (1024) and one row tile (64)
        wb, wf = weight(t, rows, cols)
        for n in ns:
            x = R.standard_normal((n, cols)).astype(np.float32); o = cp.zeros((n, rows), np.float32)
            if n == 1:   # spw_matvec: 8 rows per group of 256
                run('spw_matvec_' + t, ((rows + 7)//8, 1, 1), (256, 1, 1), o, cp.asarray(x), cp.asarray(wb), np.int32(rows),
                    np.int32(cols), np.int64(wb.nbytes // rows))
            else:        # spw_matmul: (64 rows, 32 tokens) tiles, groups of 256
                run('spw_matmul_' + t, ((rows + 63)//64, (n + 31)//32, 1), (256, 1, 1), o, cp.asarray(x), cp.asarray(wb),
                    np.int32(rows), np.int32(cols), np.int64(wb.nbytes // rows), np.int32(n))
            chk('%s %s (%d, %d) n=%d' % ('matvec' if n == 1 else 'matmul', t, rows, cols, n), o.get(),
                (x.astype(np.float64) @ wf.T.astype(np.float64)), 2e-5)
x = R.standard_normal((3, 300)).astype(np.float32); g = R.standard_normal(300).astype(np.float32); o = cp.zeros_like(cp.asarray(x))
run('spw_rms_norm', (3, 1, 1), (128, 1, 1), o, cp.asarray(x), cp.asarray(g), np.int32(300), np.float32(1e-5))
chk('rms_norm', o.get(), x / np.sqrt((x.astype(np.float64)**2).mean(1, keepdims=True) + 1e-5) * g, 1e-5)
for neox in (0, 1):
    n, H, hd, rot = 5, 3, 64, 48; x = R.standard_normal((n, H, hd)).astype(np.float32); th = R.uniform(-50, 50, (n, rot//2))
    cs = np.stack([np.cos(th), np.sin(th)], -1).astype(np.float32); xd = cp.asarray(x)
    run('spw_rope', ((H*rot//2 + 255)//256, n, 1), (256, 1, 1), xd, xd, cp.asarray(cs), np.int32(H), np.int32(0), np.int32(hd),
        np.int32(rot), np.int32(neox))
    a = np.arange(rot//2) if neox else 2*np.arange(rot//2); b = a + rot//2 if neox else a + 1; e = x.copy()
    c, s = cs[:, None, :, 0], cs[:, None, :, 1]
    e[:, :, a] = x[:, :, a]*c - x[:, :, b]*s; e[:, :, b] = x[:, :, b]*c + x[:, :, a]*s
    chk('rope neox=%d' % neox, xd.get(), e, 1e-5)
gt, up = R.standard_normal(1000).astype(np.float32)*3, R.standard_normal(1000).astype(np.float32); gd = cp.asarray(gt)
run('spw_swiglu', (4, 1, 1), (256, 1, 1), gd, cp.asarray(up), np.int32(1000))
chk('swiglu', gd.get(), gt / (1 + np.exp(-gt)) * up, 1e-5)
ad = cp.asarray(up); run('spw_add', (4, 1, 1), (256, 1, 1), ad, cp.asarray(gt), np.int32(1000)); chk('add', ad.get(), up + gt, 1e-6)
dd = cp.zeros(1000, np.float32); run('spw_copy_rows', (2, 1, 1), (256, 1, 1), dd, np.int32(10), cp.asarray(up), np.int32(20), np.int32(300))
chk('copy_rows', dd.get()[10:310], up[20:320], 0)
def q8(x):
    b = x.reshape(-1, 32); d = (np.abs(b).max(1)/np.float32(127)).astype(np.float16); df = d.astype(np.float32)
    q = np.clip(np.floor(b*np.where(df == 0, 0, 1/df)[:, None] + np.float32(.5)), -127, 127).astype(np.int8)
    return np.concatenate([h16(d), q.view(np.uint8)], 1)
def store(t, x, kv):
    ctx = 80; n = x.shape[0]; rb = {'f32': 4*kv, 'f16': 2*kv, 'bf16': 2*kv, 'q8_0': kv//32*34, 'q4_0': kv//32*18}[t]
    c = cp.zeros(ctx*rb, np.uint8); c2 = cp.zeros(ctx*rb, np.uint8); per = 32 if t[0] == 'q' else 1
    code = {'f32': 0, 'f16': 1, 'bf16': 2, 'q8_0': 3, 'q4_0': 4}[t]; sg = (kv//per + 255)//256
    # K and V in one launch (both sides here the same type and rows): groups 0..sg-1 store K, the next sg V
    run('spw_kv_store', (2*sg, n, 1), (256, 1, 1), c, c2, cp.asarray(x), cp.asarray(x), np.int32(kv), np.int64(rb), np.int64(rb),
        np.int32(code), np.int32(code), np.int32(sg), np.int32(3))
    if not np.array_equal(c.get(), c2.get()): F.append('kv_store %s: V side differs from K side' % t)
    return c.get().reshape(ctx, rb)[3:3+n], rb, c
x = R.standard_normal((4, 128)).astype(np.float32)*1.5
got, _, _ = store('f16', x, 128); chk('kv_store f16 (bits)', got.view(np.float16).astype(np.float32), x.astype(np.float16).astype(np.float32), 0)
got, _, _ = store('q8_0', x, 128); chk('kv_store q8_0 (bits)', got.astype(np.float32), q8(x).reshape(4, -1).astype(np.float32), 0)
got, _, _ = store('bf16', x, 128); chk('kv_store bf16', (got.view(np.uint16).astype(np.uint32) << 16).view(np.float32), x, 4e-3)
got, _, _ = store('q4_0', x, 128); chk('kv_store q4_0', dec('q4_0', got.reshape(-1, 18)).reshape(4, 128), x, 0.08)
def kvdec(t, rows):
    if t == 'f32': return rows.view(np.float32)
    if t == 'f16': return rows.view(np.float16).astype(np.float32)
    return dec(t, rows.reshape(-1, {'q8_0': 34, 'q4_0': 18}[t])).reshape(rows.shape[0], -1)
for kt, vt, H, KH, hd in [('f16', 'f16', 8, 2, 64), ('q8_0', 'q4_0', 4, 4, 8), ('f32', 'q8_0', 4, 2, 32)]:
    kv, sp, n = KH*hd, 66, 4; L = sp + n
    K = R.standard_normal((L, kv)).astype(np.float32); V = R.standard_normal((L, kv)).astype(np.float32)
    def cache(t, X):
        rows = {'f32': X.view(np.uint8), 'f16': X.astype(np.float16).view(np.uint8), 'q8_0': q8(X).reshape(L, -1)}.get(t)
        if rows is None: rows = blocks(L*kv//32, 18, [0]).reshape(L, -1)
        return rows, kvdec(t, rows)
    kr, kd = cache(kt, K); vr, vd = cache(vt, V); q = R.standard_normal((n, H, hd)).astype(np.float32); o = cp.zeros((n, H*hd), np.float32)
    run('spw_attention_%s_%s' % (kt, vt), (H, n, 1), (64, 1, 1), o, cp.asarray(q), cp.asarray(kr), cp.asarray(vr), np.int64(kr.shape[1]),
        np.int64(vr.shape[1]), np.int32(H), np.int32(KH), np.int32(hd), np.float32(hd**-.5), np.int32(sp))
    e = np.zeros((n, H, hd))
    for t in range(n):
        for h in range(H):
            g = h // (H // KH); s = kd[:sp+t+1, g*hd:(g+1)*hd] @ q[t, h] * hd**-.5; p = np.exp(s - s.max()); p /= p.sum()
            e[t, h] = p @ vd[:sp+t+1, g*hd:(g+1)*hd]
    chk('attention K %s V %s hd %d' % (kt, vt, hd), o.get(), e.reshape(n, -1), 3e-5)
# one token over 700 keys: the split attention (256 keys per split) and its combination
for kt, vt, H, KH, hd in [('f16', 'f16', 8, 2, 64), ('q8_0', 'q4_0', 4, 4, 32)]:
    kv, L = KH*hd, 700; splits = (L + 255)//256
    K = R.standard_normal((L, kv)).astype(np.float32); V = R.standard_normal((L, kv)).astype(np.float32)
    def cache2(t, X):
        rows = {'f16': X.astype(np.float16).view(np.uint8), 'q8_0': q8(X).reshape(L, -1)}.get(t)
        if rows is None: rows = blocks(L*kv//32, 18, [0]).reshape(L, -1)
        return rows, kvdec(t, rows)
    kr, kd = cache2(kt, K); vr, vd = cache2(vt, V); q = R.standard_normal((H, hd)).astype(np.float32)
    part = cp.zeros(H*splits*(hd + 2), np.float32); o = cp.zeros(H*hd, np.float32)
    run('spw_attention_split_%s_%s' % (kt, vt), (H, splits, 1), (64, 1, 1), part, cp.asarray(q), cp.asarray(kr), cp.asarray(vr),
        np.int64(kr.shape[1]), np.int64(vr.shape[1]), np.int32(H), np.int32(KH), np.int32(hd), np.float32(hd**-.5),
        np.int32(L), np.int32(splits))
    run('spw_attention_combine', (H, 1, 1), (64, 1, 1), o, part, np.int32(hd), np.int32(splits))
    e = np.zeros((H, hd))
    for h in range(H):
        g = h // (H // KH); s = kd[:, g*hd:(g+1)*hd] @ q[h] * hd**-.5; p = np.exp(s - s.max()); p /= p.sum()
        e[h] = p @ vd[:, g*hd:(g+1)*hd]
    chk('split attention K %s V %s (%d keys)' % (kt, vt, L), o.get(), e.reshape(-1), 3e-5)
print("GPU KERNEL CHECKS:", len(F), "failed", F)
sys.exit(1 if F else 0)
