/*
 * OpenCL entry file of the Spillway kernels. The OpenCL runtime does not use include paths: the
 * host (dev.spillway.offload.device.KernelSource) inlines the two #include lines below and builds
 * the resulting single program string with clCreateProgramWithSource.
 */
#include "include/spillway_portable.h"
#include "kernels/spillway_kernels.inc"
