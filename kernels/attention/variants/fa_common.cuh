// fa_common.cuh -- device primitives shared by the attention kernels' cores
// (fa_tc_core.cuh: mma.sync; wgmma/fa_wg_core.cuh: wgmma): shared-memory addresses, cp.async,
// half packing, quad shuffles, ex2 and the final row-sum reduction.  Every function is a
// forceinline wrapper of one PTX instruction or a few, so both cores compile to what they
// compiled to when each carried its own copy.
#pragma once

#include <cuda_fp16.h>

namespace fa_common {

typedef unsigned int u32;

__device__ __forceinline__ u32 smem_u32(const void* p) {
    return static_cast<u32>(__cvta_generic_to_shared(p));
}
// 16-byte async copy global -> shared.
__device__ __forceinline__ void cp_async_16(u32 saddr, const void* gptr) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(saddr), "l"(gptr)
                 : "memory");
}
// The same with a source size: src_bytes = 16 copies; src_bytes = 0 reads nothing and
// zero-fills the 16 destination bytes.
__device__ __forceinline__ void cp_async_16(u32 saddr, const void* gptr, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(saddr), "l"(gptr), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Wait until at most N of this thread's committed groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
}
__device__ __forceinline__ u32 pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<u32*>(&h);
}
__device__ __forceinline__ float shfl_xor(float v, int mask) {
    return __shfl_xor_sync(0xffffffffu, v, mask);
}
// 2^x, MUFU.EX2 only (exp2f adds a denormal-range fix-up around it).  ex2(-inf) = +0.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}
// 1 / l for the two rows of a thread's accumulator fragment, l summed over the row's quad
// (the 4 lanes holding its columns); 0 for a row with no weight (fully masked).
__device__ __forceinline__ void inv_row_sums(const float (&row_sum)[2], float (&inv_l)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_sum[r];
        l += shfl_xor(l, 1);
        l += shfl_xor(l, 2);
        inv_l[r] = l > 0.f ? 1.f / l : 0.f;
    }
}

}  // namespace fa_common
