// fa_wg_tma_n128.cuh -- fa_wg_tma.cuh's TMA body with 128-key tiles at 4 CTAs per SM; fa_tc
// ships it as the wgmma_tma launch (v18, NOTES.md).  ABI attention_fwd_tma_v1 (K and V as
// tensor maps; kernels/README.md).  Per CTA (64 query rows of one head, one warpgroup):
//   shared memory: Q (8 KiB, cp.async), one K slot and one V slot of 128 keys x 64 (16 KiB
//   each; 40976 B in all, as the 64-key body's two stages), an mbarrier per slot;
//   tile t: wait for K(t); S = Q K^T (m64n128k16, its first k-step writing S without reading
//   it, so the previous tile's dead scores free their registers for P); with EARLYK a CTA
//   barrier and tid 0 refills the K slot with K(t+1) at once, under the softmax and P V;
//   the softmax (fa_common::softmax_tile, lazy rescale when softmax_scale > 0); wait for V(t); O += P V (8 x
//   m64n64k16); a CTA barrier and tid 0 refills the V slot with V(t+1) (and the K slot
//   without EARLYK).  Each refill is one thread's arrive.expect_tx and two bulk tensor copies
//   (boxes of 64 rows); waits are bounded (a wait that never completes traps).
// Against the 64-key body: half the per-tile work per key (descriptors, waits, barriers, the
// max shuffles, the lazy vote; about 45 of the 64-key tile's ~250 instructions per warp) and
// 128-wide S wgmmas, for 128 registers and so 4 CTAs per SM instead of 5.
#pragma once
#include "fa_wg_tma.cuh"

#define FA_WG_TMA_N128_SMEM_BYTES(D, BN) ((64 * (D) + 2 * (BN) * (D)) * 2 + 16)

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

// S = Q K^T whose first k-step writes S without reading it ("=f" outputs): the previous
// tile's scores are dead once packed into P, and with "+f" they would stay live through the
// loop (v15: ptxas then serialises the wgmmas, C7512).
template <int N>
__device__ __forceinline__ void wgmma_ss_first(float (&d)[N], u64 desc_a, u64 desc_b);
template <>
__device__ __forceinline__ void wgmma_ss_first<32>(float (&d)[32], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 0, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", %32, %33, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC32("=f")
        : "l"(desc_a), "l"(desc_b));
}
template <>
__device__ __forceinline__ void wgmma_ss_first<64>(float (&d)[64], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 0, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " FA_WG_ACC64_STR
        ", %64, %65, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC64("=f")
        : "l"(desc_a), "l"(desc_b));
}
template <int D, int BN>
__device__ __forceinline__ void gemm_qk_first(float (&s)[BN / 2], u64 desc_q, u64 desc_k) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
        const u64 dq = desc_q + (((kk % 4) * 32) >> 4);
        const u64 dk = desc_k + (((kk % 4) * 32) >> 4);
        if (kk == 0) {
            wgmma_ss_first<BN / 2>(s, dq, dk);
        } else {
            wgmma_ss<1>(s, dq, dk);
        }
    }
}

template <int D, int BN, bool POS, bool LAZY, bool EARLYK>
__device__ __forceinline__ void fwd_tma_n128(const __half* __restrict__ Q,
                                            const CUtensorMap* tmK, const CUtensorMap* tmV,
                                            __half* __restrict__ O, int H, int S,
                                            float softmax_scale, int causal,
                                            unsigned char* smem_raw) {
    using C = Cfg<D, BN, 2>;
    static_assert(D == 64, "one swizzle atom per row");
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int m0 = cta_first_row(causal, C::kBlockM);  // heaviest causal blocks first
    if (m0 >= S) return;
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32_sw128(smem_raw);
    const u32 sK = sQ + C::kQBytes;
    const u32 sV = sK + C::kKvBytes;
    const u32 barK = sV + C::kKvBytes;
    const u32 barV = barK + 8;

    const int n_end = causal ? min(S, m0 + C::kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int w_row0 = m0 + warp * 16;
    const int q_row0 = w_row0 + gid;

    if (tid == 0) {
        mbar_init(barK, 1);
        mbar_init(barV, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQ, Qh, m0, S, tid);
    cp_async_commit();
    __syncthreads();

    auto issue = [&](const CUtensorMap* tm, u32 dst, u32 bar, int i) {
        mbar_expect_tx(bar, C::kKvBytes);
#pragma unroll
        for (int r = 0; r < BN / 64; ++r) tma_load_3d(dst + r * (64 * 128), tm, bar, 0, i * BN + 64 * r, bh);
    };
    if (tid == 0 && n_tiles > 0) {
        issue(tmK, sK, barK, 0);
        issue(tmV, sV, barV, 0);
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);

    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        const u32 parity = t & 1;
        mbar_wait_bounded(barK, parity);
        wg_fence();
        gemm_qk_first<D, BN>(s, desc_q, make_desc_sw128(sK, 16, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        if constexpr (EARLYK) {
            __syncthreads();  // every warp's S(t) done: the K slot is free
            if (tid == 0 && t + 1 < n_tiles) issue(tmK, sK, barK, t + 1);
        }
        u32 pf[BN / 16][4];
        softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, t * BN, q_row0,
                                       w_row0, S, causal);
        mbar_wait_bounded(barV, parity);
        wg_fence();
        gemm_pv<D, BN>(o, pf, make_desc_sw128(sV, BN * 128, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        fence_regs(pf);
        __syncthreads();  // every warp's P V(t) done: the V slot (and K, without EARLYK) free
        if (tid == 0 && t + 1 < n_tiles) {
            if constexpr (!EARLYK) issue(tmK, sK, barK, t + 1);
            issue(tmV, sV, barV, t + 1);
        }
    }
    store_o<D>(o, row_sum, smem_raw, warp, Oh, w_row0, S);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
// softmax_scale <= 0 (scores scaled before the max; an edge case the oracle checks) takes the
// eager rescale: with both copies lazy the kernel needs one register more than the 128 that
// 4 CTAs/SM allow, and ptxas spills (4 B).
#define FA_WG_TMA_N128_BODY(BN_, LAZY_, EK_)                                                 \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_n128<64, BN_, true, LAZY_, EK_>(Q, &tmK, &tmV, O, H, S, softmax_scale,\
                                                       causal, fa_wg_smem);                  \
    } else {                                                                                 \
        fa_wg::fwd_tma_n128<64, BN_, false, false, EK_>(Q, &tmK, &tmV, O, H, S,              \
                                                        softmax_scale, causal, fa_wg_smem);  \
    }
#else
#define FA_WG_TMA_N128_BODY(BN_, LAZY_, EK_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_N128_ENTRY(name, keys per tile, lazy, early K, min CTAs per SM): D = 64, ABI
//   attention_fwd_tma_v1, 128 threads, FA_WG_TMA_N128_SMEM_BYTES(64, BN).
#define FA_WG_TMA_N128_ENTRY(NAME, BN_, LAZY_, EK_, MINB_)                                    \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_TMA_N128_BODY(BN_, LAZY_, EK_)                                                  \
    }
