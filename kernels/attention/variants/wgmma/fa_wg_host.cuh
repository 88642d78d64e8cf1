// fa_wg_host.cuh -- host-side pieces the standalone check and timing programs share
// (fa_wg_selfcheck.cu, fa_wg_trace.cu, ../../fa_tc_selfcheck.cu): the CUDA error check, the
// ABI attention_fwd_v1 entry type and the kernel that flushes L2 by reading a large buffer
// before a cold launch.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CK(x)                                                                              \
    do {                                                                                   \
        cudaError_t e_ = (x);                                                              \
        if (e_ != cudaSuccess) {                                                           \
            fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, \
                    __LINE__, cudaGetErrorString(e_));                                     \
            exit(2);                                                                       \
        }                                                                                  \
    } while (0)

typedef void (*fa_entry_t)(const __half*, const __half*, const __half*, __half*, int, int, int,
                           int, float, int);

__global__ void flush_l2_kernel(const int4* p, size_t n, int* sink) {
    int acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int4 v = p[i];
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x7fffffff) *sink = acc;  // practically never; keeps the loads
}
