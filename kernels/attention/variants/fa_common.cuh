// fa_common.cuh -- device primitives shared by the attention kernels' cores
// (fa_tc_core.cuh: mma.sync; wgmma/fa_wg_core.cuh: wgmma): shared-memory addresses, cp.async,
// half packing, quad shuffles, ex2, the final row-sum reduction and a CTA's first row.  Every function is a
// forceinline wrapper of one PTX instruction or a few, so both cores compile to what they
// compiled to when each carried its own copy.
#pragma once

#include <cuda_fp16.h>

namespace fa_common {

typedef unsigned int u32;

// The first query row of this CTA's block of block_m rows (grid.x counts the blocks). Under
// causal masking the blocks run in reverse, so the heaviest ones (the most keys) start first.
// Uniform per CTA.
__device__ __forceinline__ int cta_first_row(int causal, int block_m) {
    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    return mblk * block_m;
}
__device__ __forceinline__ u32 smem_u32(const void* p) {
    return static_cast<u32>(__cvta_generic_to_shared(p));
}
// The shared address of the dynamic shared buffer, whose tiles in the 128-byte swizzle of
// wgmma and TMA (SW128 atoms) must be 1024-B aligned: traps if it is not.
__device__ __forceinline__ u32 smem_u32_sw128(const void* p) {
    const u32 a = smem_u32(p);
    if (a & 1023u) __trap();
    return a;
}
// Offset of this CTA's (batch, head) slice of a [B, H, S, D] tensor (grid: row blocks, H, B),
// in 64 bits.
__device__ __forceinline__ size_t head_offset(int H, int S, int D) {
    return (static_cast<size_t>(blockIdx.z) * H + blockIdx.y) * S * D;
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

// Mask, then the online softmax of one score tile in place (s -> unnormalised P, fp32):
// a warp's 16 rows x BN keys in the m16n8 accumulator layout that mma.sync m16n8k16 and
// wgmma m64nBN share (s[4j + e]: key columns 8j + 2 tig + (e & 1), row gid + 8 (e >> 1)).
// Updates the running row max / row sum.  Returns false when the O accumulators keep
// their scale (alpha = 1 for every row of the warp), true when they must be multiplied by
// alpha.
// POS (softmax_scale > 0): the max is taken over raw scores and each exponent is one FFMA,
// exp2(s * c - max * c) with c = scale * log2(e); otherwise the scores are scaled first
// (c = 1 after that).  row_max is in the units of s.
// LAZY (FlashAttention-4's conditional rescaling): the max used for the exponents moves only
// when some row of the warp would otherwise see exponents above 2^kLazyLog2 (P <= 256 in fp16
// and fp32 loses nothing: O and l carry the same stale max, which cancels in O / l), so in
// the steady state the 32-64 multiplies of the O rescale are skipped.
// FIRST: the row's first tile (row_max -inf, O and row_sum zero): no alpha, returns false.
constexpr float kLazyLog2 = 8.f;
template <int BN, bool POS, bool LAZY, bool FIRST = false>
__device__ __forceinline__ bool softmax_tile(float (&s)[BN / 2], float (&row_max)[2],
                                             float (&row_sum)[2], float (&alpha)[2],
                                             float scale_log2, int n0, int q_row0, int w_row0,
                                             int S, int causal) {
    constexpr int kS = BN / 2;
    const float kNegInf = -INFINITY;
    const int tig = threadIdx.x & 3;
    if constexpr (!POS) {
#pragma unroll
        for (int i = 0; i < kS; ++i) s[i] *= scale_log2;
    }
    const float c = POS ? scale_log2 : 1.f;
    // x * c - m: one FFMA (POS); a plain FADD otherwise (c = 1, scores already scaled).
    auto scaled_minus = [c](float x, float m) -> float {
        if constexpr (POS) {
            return fmaf(x, c, -m);
        } else {
            return x - m;
        }
    };
    const bool need_mask = (n0 + BN > S) || (causal && n0 + BN - 1 > w_row0);
    if (need_mask) {
#pragma unroll
        for (int i = 0; i < kS; ++i) {
            const int col = n0 + (i >> 2) * 8 + tig * 2 + (i & 1);
            const int row = q_row0 + ((i >> 1) & 1) * 8;
            if (col >= S || (causal && col > row)) s[i] = kNegInf;
        }
    }
    float mx[2] = {row_max[0], row_max[1]};
#pragma unroll
    for (int j = 0; j < kS / 4; ++j) {
        mx[0] = fmaxf(mx[0], fmaxf(s[4 * j + 0], s[4 * j + 1]));
        mx[1] = fmaxf(mx[1], fmaxf(s[4 * j + 2], s[4 * j + 3]));
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 1));
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 2));
    }
    // (mx - row_max) * c: +inf while row_max is -inf and mx is not; NaN (no move) while both
    // are -inf (row fully masked so far).
    bool rescale = !FIRST;
    if constexpr (FIRST) {
        row_max[0] = mx[0];
        row_max[1] = mx[1];
    } else if constexpr (LAZY) {
        const bool grows = (mx[0] - row_max[0]) * c > kLazyLog2 ||
                           (mx[1] - row_max[1]) * c > kLazyLog2;
        rescale = __any_sync(0xffffffffu, grows);  // warp-uniform
    }
    float m_c[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (rescale) {
            // ex2(-inf) = 0 on the first tile; row fully masked so far: alpha 0, no NaN.
            const float new_c = (mx[r] == kNegInf) ? 0.f : mx[r] * c;
            alpha[r] = fast_exp2(scaled_minus(row_max[r], new_c));
            row_max[r] = mx[r];
        } else {
            alpha[r] = 1.f;
        }
        m_c[r] = (row_max[r] == kNegInf) ? 0.f : row_max[r] * c;
    }
    float rs[2] = {0.f, 0.f};
#pragma unroll
    for (int j = 0; j < kS / 4; ++j) {
        s[4 * j + 0] = fast_exp2(scaled_minus(s[4 * j + 0], m_c[0]));
        s[4 * j + 1] = fast_exp2(scaled_minus(s[4 * j + 1], m_c[0]));
        s[4 * j + 2] = fast_exp2(scaled_minus(s[4 * j + 2], m_c[1]));
        s[4 * j + 3] = fast_exp2(scaled_minus(s[4 * j + 3], m_c[1]));
        rs[0] += s[4 * j + 0] + s[4 * j + 1];
        rs[1] += s[4 * j + 2] + s[4 * j + 3];
    }
    row_sum[0] = FIRST ? rs[0] : row_sum[0] * alpha[0] + rs[0];
    row_sum[1] = FIRST ? rs[1] : row_sum[1] * alpha[1] + rs[1];
    return rescale;
}

template <int D>
__device__ __forceinline__ void rescale(float (&o)[D / 2], const float (&alpha)[2]) {
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
        o[4 * j + 0] *= alpha[0];
        o[4 * j + 1] *= alpha[0];
        o[4 * j + 2] *= alpha[1];
        o[4 * j + 3] *= alpha[1];
    }
}
}  // namespace fa_common
