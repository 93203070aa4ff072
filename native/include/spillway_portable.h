/*
 * spillway_portable.h - the thin layer that lets one kernel source (kernels/spillway_kernels.inc)
 * compile as OpenCL C 1.2 and as CUDA / HIP C++.
 *
 * It maps: the kernel qualifier (CUDA/HIP kernels get extern "C" so their names are not mangled),
 * address-space qualifiers, work-group / work-item indices, the local-memory barrier, 64-bit and
 * small integer types, float math, F16 / BF16 loads and the F16 store of the KV cache, and the sum
 * over a team of 32 work-items (warp shuffles on CUDA/HIP, local memory on OpenCL).
 *
 * Rules for code written on top of it (the common subset of both languages):
 *   - no `half` variables (PoCL has no cl_khr_fp16): F16 goes through spw_load_f16 / spw_store_f16
 *     on byte addresses that are 2-byte aligned;
 *   - local (shared) arrays are declared at kernel scope with SPW_LOCAL_DECL and passed to helpers as
 *     SPW_LOCAL_PTR pointers; private arrays are plain C arrays;
 *   - every work-item of a group reaches every SPW_BARRIER();
 *   - byte offsets that can pass 2^31 are spw_i64.
 */
#ifndef SPILLWAY_PORTABLE_H
#define SPILLWAY_PORTABLE_H

#if defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)
/* ---------------------------------------------------------------- OpenCL C 1.2 */
#define SPW_KERNEL __kernel
#define SPW_GLOBAL __global
#define SPW_LOCAL_DECL __local
#define SPW_LOCAL_PTR __local
#define SPW_FN static inline

typedef long spw_i64;
typedef uchar spw_u8;
typedef char spw_i8;
typedef ushort spw_u16;
typedef uint spw_u32;

#define SPW_GROUP_ID(d) ((int)get_group_id(d))
#define SPW_LOCAL_ID(d) ((int)get_local_id(d))
#define SPW_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)

#define SPW_AS_FLOAT(u) as_float(u)
#define SPW_AS_UINT(f) as_uint(f)
#define spw_expf(x) exp(x)
#define spw_sqrtf(x) sqrt(x)
#define spw_fabsf(x) fabs(x)
#define spw_fmaxf(a, b) fmax(a, b)
#define spw_floorf(x) floor(x)

/* IEEE half at a 2-byte aligned byte address (core vload_half: no cl_khr_fp16 needed). */
SPW_FN float spw_load_f16(SPW_GLOBAL const spw_u8 *p) {
    return vload_half(0, (SPW_GLOBAL const half *)p);
}

/* Rounds to nearest even, as Java's Float.floatToFloat16 does. */
SPW_FN void spw_store_f16(SPW_GLOBAL spw_u8 *p, float v) {
    vstore_half_rte(v, 0, (SPW_GLOBAL half *)p);
}

/*
 * Sum of v over the team of 32 consecutive work-items that holds lid (lid / 32); every item of the
 * team gets it. OpenCL C 1.2 has no subgroup operations, so it goes through buf (one float per item
 * of the group), and every item of the group must call it (barriers).
 */
SPW_FN float spw_team_sum32(SPW_LOCAL_PTR float *buf, float v, int lid) {
    buf[lid] = v;
    SPW_BARRIER();
    for (int s = 16; s > 0; s >>= 1) {
        if ((lid & 31) < s) {
            buf[lid] += buf[lid + s];
        }
        SPW_BARRIER();
    }
    float r = buf[lid & ~31];
    SPW_BARRIER();
    return r;
}

#elif defined(__CUDACC__) || defined(__HIPCC__)
/* ---------------------------------------------------------------- CUDA / HIP C++ */
#if defined(__HIPCC__)
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
#else
#include <cuda_fp16.h>
#endif

#define SPW_KERNEL extern "C" __global__
#define SPW_GLOBAL
#define SPW_LOCAL_DECL __shared__
#define SPW_LOCAL_PTR
#define SPW_FN static __device__ __forceinline__

typedef long long spw_i64;
typedef unsigned char spw_u8;
typedef signed char spw_i8;
typedef unsigned short spw_u16;
typedef unsigned int spw_u32;

#define SPW_GROUP_ID(d) ((int)((d) == 0 ? blockIdx.x : (d) == 1 ? blockIdx.y : blockIdx.z))
#define SPW_LOCAL_ID(d) ((int)((d) == 0 ? threadIdx.x : (d) == 1 ? threadIdx.y : threadIdx.z))
#define SPW_BARRIER() __syncthreads()

#define SPW_AS_FLOAT(u) __uint_as_float(u)
#define SPW_AS_UINT(f) __float_as_uint(f)
#define spw_expf(x) expf(x)
#define spw_sqrtf(x) sqrtf(x)
#define spw_fabsf(x) fabsf(x)
#define spw_fmaxf(a, b) fmaxf(a, b)
#define spw_floorf(x) floorf(x)

SPW_FN float spw_load_f16(const spw_u8 *p) {
    return __half2float(__ushort_as_half(*(const unsigned short *)p));
}

SPW_FN void spw_store_f16(spw_u8 *p, float v) {
    *(unsigned short *)p = __half_as_ushort(__float2half_rn(v));
}

/*
 * Sum of v over the team of 32 consecutive work-items that holds lid, by register shuffles (a butterfly:
 * every item ends with the sum). A team is a whole warp on CUDA and half a wavefront on AMD (width 32).
 * buf is unused here; every item of the team must call it.
 */
SPW_FN float spw_team_sum32(float *buf, float v, int lid) {
    (void)buf;
    (void)lid;
    for (int o = 16; o > 0; o >>= 1) {
#if defined(__HIPCC__)
        v += __shfl_xor(v, o, 32);
#else
        v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
#endif
    }
    return v;
}

#else
#error "spillway kernels compile as OpenCL C, CUDA or HIP"
#endif

/* ---------------------------------------------------------------- common to both */

/* BF16 is the top half of an F32. */
SPW_FN float spw_bf16(spw_u16 bits) {
    return SPW_AS_FLOAT(((spw_u32)bits) << 16);
}

/* F32 to BF16 rounding to nearest even; a NaN stays a quiet NaN (as Java's Quants.floatToBf16). */
SPW_FN spw_u16 spw_to_bf16(float v) {
    spw_u32 bits = SPW_AS_UINT(v);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
        return (spw_u16)((bits >> 16) | 0x0040u);
    }
    return (spw_u16)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

#define SPW_NEG_INF SPW_AS_FLOAT(0xFF800000u)

SPW_FN int spw_min_i(int a, int b) {
    return a < b ? a : b;
}

#endif /* SPILLWAY_PORTABLE_H */
