// The device-memory bandwidth ceiling that ci/bench-gpu measures generation against: a read of a
// 4 GiB buffer (well past any cache) by a grid-stride kernel with 16-byte loads and one sum per
// thread, timed with CUDA events; prints the best of 20 reads in GB/s (1e9 bytes per second).
//   nvcc -O3 -arch=native -o gpu-bandwidth ci/gpu-bandwidth.cu && ./gpu-bandwidth [GiB]
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        cudaError_t e = (call);                                                                    \
        if (e != cudaSuccess) {                                                                    \
            std::fprintf(stderr, "gpu-bandwidth: %s failed: %s\n", #call, cudaGetErrorString(e));   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

__global__ void readAll(const float4 *in, size_t count, float *sink) {
    float s = 0.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
        float4 v = in[i];
        s += v.x + v.y + v.z + v.w;
    }
    if (s == 1.2345f) {   // never true for the zeroed buffer: keeps the loads without a store per thread
        *sink = s;
    }
}

int main(int argc, char **argv) {
    size_t gib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4;
    size_t bytes = gib << 30;
    float4 *buf;
    float *sink;
    CHECK(cudaMalloc(&buf, bytes));
    CHECK(cudaMalloc(&sink, sizeof(float)));
    CHECK(cudaMemset(buf, 0, bytes));
    int sms;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    cudaEvent_t start, stop;
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    float best = 1e30f;
    for (int i = 0; i < 20; i++) {
        CHECK(cudaEventRecord(start));
        readAll<<<sms * 8, 512>>>(buf, bytes / sizeof(float4), sink);
        CHECK(cudaEventRecord(stop));
        CHECK(cudaEventSynchronize(stop));
        CHECK(cudaGetLastError());
        float ms;
        CHECK(cudaEventElapsedTime(&ms, start, stop));
        if (ms < best) {
            best = ms;
        }
    }
    std::printf("%.1f\n", bytes / (best * 1e-3) / 1e9);
    CHECK(cudaFree(buf));
    CHECK(cudaFree(sink));
    return 0;
}
