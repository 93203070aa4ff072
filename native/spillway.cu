/*
 * CUDA / HIP entry file of the Spillway kernels:
 *   nvcc -ptx -arch=compute_80 native/spillway.cu -o spillway.ptx
 *   hipcc -x hip --genco --offload-arch=gfx90a native/spillway.cu -o spillway.hsaco
 * Kernels are extern "C" (see SPW_KERNEL), so the module exports their plain names.
 */
#include "include/spillway_portable.h"
#include "kernels/spillway_kernels.inc"
