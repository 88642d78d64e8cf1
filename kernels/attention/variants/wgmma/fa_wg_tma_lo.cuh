// fa_wg_tma_lo.cuh -- prototype for the harness (fa_wg_selfcheck.cu), not in fa_tc (v18).
// fa_wg_tma.cuh's fwd_tma with the wgmma descriptors built from 32-bit low words: every
// descriptor here has the same high word (SBO 1024 B, 128-byte swizzle: 0x40000040), and the
// low word (start address >> 4, LBO) only moves by small steps, so each wgmma takes
// {lo, 0x40000040} made inside its asm block instead of a 64-bit descriptor that the shipped
// code rebuilds and adds to (add with carry, moves of the high word: about 50 uniform-datapath
// instructions per tile and warp, NOTES.md v16).  The question: fewer instructions per tile,
// and is that energy at canon_6's power limit?  RSUM_H2: the softmax's row sums added as
// packed fp16 pairs (HADD2) of the P fragments instead of fp32 FADDs of the scores.
#pragma once
#include "fa_wg_tma.cuh"

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

constexpr u32 kDescHi = 0x40000040u;  // SBO 1024 B >> 4, layout type 1 (SWIZZLE_128B) << 30
// Low word of a descriptor: start address >> 4 and LBO >> 4 (bits 16..29).
__device__ __forceinline__ u32 desc_lo(u32 saddr, u32 lbo_bytes) {
    return ((saddr & 0x3FFFF) >> 4) | (((lbo_bytes >> 4) & 0x3FFF) << 16);
}

template <int SCALE_D>
__device__ __forceinline__ void wgmma_ss_lo(float (&d)[32], u32 a_lo, u32 b_lo) {
    asm volatile(
        "{\n.reg .pred p;\n.reg .b64 da, db;\nsetp.ne.b32 p, %34, 0;\n"
        "mov.b64 da, {%32, %35};\nmov.b64 db, {%33, %35};\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", da, db, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC32_OUT
        : "r"(a_lo), "r"(b_lo), "n"(SCALE_D), "n"(kDescHi));
}
__device__ __forceinline__ void wgmma_rs_tb_lo(float (&d)[32], const u32 (&a)[4], u32 b_lo) {
    asm volatile(
        "{\n.reg .pred p;\n.reg .b64 db;\nsetp.ne.b32 p, %37, 0;\n"
        "mov.b64 db, {%36, %38};\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", {%32, %33, %34, %35}, db, p, 1, 1, 1;\n}\n"
        : FA_WG_ACC32_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b_lo), "n"(1), "n"(kDescHi));
}

// The softmax of one tile as fa_common::softmax_tile (POS, LAZY, no mask needed: the caller
// takes softmax_tile for masked tiles), with P packed here and the row sums added as packed
// fp16 pairs of P: each row's 16 values of this thread in 7 HADD2 (pairs of pairs), then one
// HADD2 of the two halves' swap and the conversion of the two row totals to fp32.
template <int D, int BN, bool LAZY>
__device__ __forceinline__ void softmax_pack_h2(float (&s)[BN / 2], float (&o)[D / 2],
                                                float (&row_max)[2], float (&row_sum)[2],
                                                u32 (&pf)[BN / 16][4], float c) {
    constexpr int kS = BN / 2;
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
    bool re = true;
    if constexpr (LAZY) {
        const bool grows = (mx[0] - row_max[0]) * c > fa_common::kLazyLog2 ||
                           (mx[1] - row_max[1]) * c > fa_common::kLazyLog2;
        re = __any_sync(0xffffffffu, grows);
    }
    float alpha[2], m_c[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (re) {
            const float new_c = (mx[r] == -INFINITY) ? 0.f : mx[r] * c;
            alpha[r] = fast_exp2(fmaf(row_max[r], c, -new_c));
            row_max[r] = mx[r];
        } else {
            alpha[r] = 1.f;
        }
        m_c[r] = (row_max[r] == -INFINITY) ? 0.f : row_max[r] * c;
    }
#pragma unroll
    for (int i = 0; i < kS; ++i) s[i] = fast_exp2(fmaf(s[i], c, -m_c[(i >> 1) & 1]));
    pack_p<BN>(s, pf);
    // pf[kk][0], pf[kk][2]: row 0 pairs; pf[kk][1], pf[kk][3]: row 1 pairs.
    __half2 a0 = __hadd2(*reinterpret_cast<__half2*>(&pf[0][0]),
                         *reinterpret_cast<__half2*>(&pf[0][2]));
    __half2 a1 = __hadd2(*reinterpret_cast<__half2*>(&pf[0][1]),
                         *reinterpret_cast<__half2*>(&pf[0][3]));
#pragma unroll
    for (int kk = 1; kk < BN / 16; ++kk) {
        a0 = __hadd2(a0, __hadd2(*reinterpret_cast<__half2*>(&pf[kk][0]),
                                 *reinterpret_cast<__half2*>(&pf[kk][2])));
        a1 = __hadd2(a1, __hadd2(*reinterpret_cast<__half2*>(&pf[kk][1]),
                                 *reinterpret_cast<__half2*>(&pf[kk][3])));
    }
    // (row 0 lo + row 0 hi, row 1 lo + row 1 hi) in one HADD2 of two byte permutations.
    const __half2 lo = __lows2half2(a0, a1), hi = __highs2half2(a0, a1);
    const float2 t = __half22float2(__hadd2(lo, hi));
    row_sum[0] = row_sum[0] * alpha[0] + t.x;
    row_sum[1] = row_sum[1] * alpha[1] + t.y;
    if (re) rescale<D>(o, alpha);
}

template <int D, int BN, int NS, bool POS, bool LAZY, bool RSUM_H2>
__device__ __forceinline__ void fwd_tma_lo(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                           const CUtensorMap* tmV, __half* __restrict__ O,
                                           int H, int S, float softmax_scale, int causal,
                                           unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(D == 64 && BN == 64, "the D = 64, 64-key body only");
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * C::kBlockM;
    if (m0 >= S) return;
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + C::kQBytes;
    const u32 sBar = sStages + NS * C::kStageBytes;

    const int n_end = causal ? min(S, m0 + C::kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int w_row0 = m0 + warp * 16;
    const int q_row0 = w_row0 + gid;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) mbar_init(sBar + 8 * st, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQ, Qh, m0, S, tid);
    cp_async_commit();
    __syncthreads();

    auto issue = [&](int i) {
        const u32 st = sStages + (i % NS) * C::kStageBytes;
        const u32 bar = sBar + 8 * (i % NS);
        mbar_expect_tx(bar, C::kStageBytes);
        tma_load_3d(st, tmK, bar, 0, i * BN, bh);
        tma_load_3d(st + C::kKvBytes, tmV, bar, 0, i * BN, bh);
    };
    if (tid == 0) {
        for (int i = 0; i < L && i < n_tiles; ++i) issue(i);
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u32 q_lo = desc_lo(sQ, 16);
    const u32 k_lo0 = desc_lo(sStages, 16);
    const u32 v_lo0 = desc_lo(sStages + C::kKvBytes, BN * 128);

    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        if (tid == 0 && t + L < n_tiles) issue(t + L);
        mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        const u32 st_lo = (t % NS) * (C::kStageBytes >> 4);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            if (kk == 0) {
                wgmma_ss_lo<0>(s, q_lo, k_lo0 + st_lo);
            } else {
                wgmma_ss_lo<1>(s, q_lo + 2 * kk, k_lo0 + st_lo + 2 * kk);
            }
        }
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        u32 pf[BN / 16][4];
        const int n0 = t * BN;
        const bool need_mask = (n0 + BN > S) || (causal && n0 + BN - 1 > w_row0);
        if (RSUM_H2 && POS && !need_mask) {
            softmax_pack_h2<D, BN, LAZY>(s, o, row_max, row_sum, pf, scale_log2);
        } else {
            softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, n0, q_row0,
                                           w_row0, S, causal);
        }
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk) wgmma_rs_tb_lo(o, pf[kk], v_lo0 + st_lo + 128 * kk);
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        fence_regs(pf);
        FA_WG_TMA_AFTER_TILE();
    }
    store_o<D>(o, row_sum, smem_raw, warp, Oh, w_row0, S);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_LO_BODY(NS_, LAZY_, H2_)                                                   \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_lo<64, 64, NS_, true, LAZY_, H2_>(Q, &tmK, &tmV, O, H, S,             \
                                                         softmax_scale, causal, fa_wg_smem); \
    } else {                                                                                 \
        fa_wg::fwd_tma_lo<64, 64, NS_, false, LAZY_, H2_>(Q, &tmK, &tmV, O, H, S,            \
                                                          softmax_scale, causal, fa_wg_smem);\
    }
#else
#define FA_WG_TMA_LO_BODY(NS_, LAZY_, H2_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_LO_ENTRY(name, stages, lazy, row sums in fp16 pairs, min CTAs per SM): D = 64,
//   64-key tiles, ABI attention_fwd_tma_v1, FA_WG_TMA_SMEM_BYTES(64, 64, NS).
#define FA_WG_TMA_LO_ENTRY(NAME, NS_, LAZY_, H2_, MINB_)                                     \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_TMA_LO_BODY(NS_, LAZY_, H2_)                                                   \
    }
