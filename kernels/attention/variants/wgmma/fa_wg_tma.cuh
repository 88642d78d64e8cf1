// fa_wg_tma.cuh -- the wgmma body (fa_wg_core.cuh, plain schedule) with its K and V tiles
// brought in by the Tensor Memory Accelerator; ABI attention_fwd_tma_v1 (kernels/README.md):
// K and V as tensor maps the host encodes (cuTensorMapEncodeTiled).  fa_tc ships it as the
// wgmma_tma launch (v13); fa_wg_tma.{cu,toml} and the harness run other instances.
// Per CTA (64 query rows of one head, one warpgroup): Q by cp.async; key tile i goes into
// stage i % NS by one thread (tid 0), which arms the stage's mbarrier with the tile's byte
// count (arrive.expect_tx) and issues one cp.async.bulk.tensor per K / V swizzle atom (box 64
// columns x BN rows x 1 head, SWIZZLE_128B: the layout the SW128 wgmma descriptors read);
// everyone waits on that mbarrier's phase (tile i / NS) before the tile's wgmmas.  The
// barrier after each tile (FA_WG_TMA_AFTER_TILE, __syncthreads unless a planted-race probe
// defines it) tells tid 0 that every warp has waited for its wgmmas on the stage it refills.
// Tensor maps: 3-D {D, S, B * H} fp16, strides {2 D, 2 S D} bytes, box {64, 64, 1}, 128-byte
// swizzle; rows past S of a head are outside the map and arrive as zeros (masked anyway).
// Waits are bounded: a wait that never completes traps instead of hanging.
#pragma once
#include <cuda.h>  // CUtensorMap

#include "fa_wg_core.cuh"

// Dynamic shared memory: Q + NS stages + NS mbarriers (8 B each).
#define FA_WG_TMA_SMEM_BYTES(D, BN, NS) (FA_WG_SMEM_BYTES(D, BN, NS) + 8 * (NS))
// The barrier after each key tile; kernels/selftest/probes/tma_race.cu defines one that
// skips it in one CTA.
#ifndef FA_WG_TMA_AFTER_TILE
#define FA_WG_TMA_AFTER_TILE() __syncthreads()
#endif

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

__device__ __forceinline__ void mbar_expect_tx(u32 bar, u32 bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar),
                 "r"(bytes)
                 : "memory");
}
__device__ __forceinline__ bool mbar_try_wait(u32 bar, u32 parity) {
    u32 done;
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
    return done != 0;
}
__device__ __forceinline__ void mbar_wait_bounded(u32 bar, u32 parity) {
    for (u32 spins = 0; !mbar_try_wait(bar, parity); ++spins) {
        if (spins == (1u << 20)) __trap();
    }
}
__device__ __forceinline__ void tma_load_3d(u32 dst, const CUtensorMap* map, u32 bar, int c0,
                                            int c1, int c2) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(dst),
        "l"(reinterpret_cast<u64>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
        : "memory");
}

template <int D, int BN, int NS, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_tma(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                        const CUtensorMap* tmV, __half* __restrict__ O,
                                        int H, int S, float softmax_scale, int causal,
                                        unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int m0 = cta_first_row(causal, C::kBlockM);  // heaviest causal blocks first
    if (m0 >= S) return;  // uniform per CTA
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32_sw128(smem_raw);
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
    __syncthreads();  // the barriers are initialised before anyone waits on them

    // Tile i into stage i % NS (tid 0 only): one bulk copy per box (64 columns = one swizzle
    // atom, 64 rows) of K and of V.
    static_assert(BN % 64 == 0, "tiles of whole 64-row boxes");
    auto issue = [&](int i) {
        const u32 st = sStages + (i % NS) * C::kStageBytes;
        const u32 bar = sBar + 8 * (i % NS);
        mbar_expect_tx(bar, C::kStageBytes);
#pragma unroll
        for (int a = 0; a < C::kAtoms; ++a) {
#pragma unroll
            for (int r = 0; r < BN / 64; ++r) {
                const u32 off = a * (BN * 128) + r * (64 * 128);
                tma_load_3d(st + off, tmK, bar, 64 * a, i * BN + 64 * r, bh);
                tma_load_3d(st + C::kKvBytes + off, tmV, bar, 64 * a, i * BN + 64 * r, bh);
            }
        }
    };
    if (tid == 0) {
        for (int i = 0; i < L && i < n_tiles; ++i) issue(i);
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);

    cp_async_wait<0>();  // Q (this thread's copies)
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        // The stage of tile t-1 is free: every warp passed the barrier that ended t-1.
        if (tid == 0 && t + L < n_tiles) issue(t + L);
        mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        const u32 st = sStages + (t % NS) * C::kStageBytes;
        plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                     [st] { return st; }, t * BN, q_row0, w_row0, S, causal);
        FA_WG_TMA_AFTER_TILE();  // nobody reads stage t any more
    }
    store_o<D>(o, row_sum, smem_raw, warp, Oh, w_row0, S);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_ENTRY(name, head dim, keys per tile, stages, lazy, min CTAs per SM):
//   (Q, tensor map of K, tensor map of V, O, B, H, S, D, softmax_scale, causal); 128 threads,
//   block_m 64, FA_WG_TMA_SMEM_BYTES(D, BN, NS) bytes.
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_)                                                  \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma<D_, BN_, NS_, true, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,     \
                                                  causal, fa_wg_smem);                       \
    } else {                                                                                 \
        fa_wg::fwd_tma<D_, BN_, NS_, false, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,    \
                                                   causal, fa_wg_smem);                      \
    }
#else
#define FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_ENTRY(NAME, D_, BN_, NS_, LAZY_, MINB_)                                    \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_)                                                  \
    }
