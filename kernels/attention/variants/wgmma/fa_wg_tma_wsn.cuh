// fa_wg_tma_wsn.cuh -- prototype for the harness (fa_wg_selfcheck.cu), not in fa_tc (v17).
// Question: at canon_6's power limit, how much energy does sharing each K / V tile between
// several warpgroups save when the warpgroups keep the shipped body's plain schedule and are
// not coupled by a CTA barrier?  (v14's `rows` shared a stage between two warpgroups through
// the per-tile __syncthreads and lost cycles to it; v15's fwd_tma_wsr changed the schedule
// too.)
// fwd_tma_wsn: a CTA of NC consumer warpgroups and one producer warp computes units of
// 64 NC query rows of one head:
//   consumer warpgroup g owns rows 64 g .. 64 g + 63 of the unit and runs fa_wg_tma.cuh's
//     per-tile chain (plain_tile: S = Q K^T, softmax, O += P V, each waited for), then its
//     warps release the stage;
//   the producer warp's lane 0 issues every tile's bulk tensor copies (one K and one V box at
//     D = 64) into an NS-stage ring:
//       full[s]  (count 1): the producer's arrive.expect_tx, completed by the TMA;
//       empty[s] (count 4 NC): lane 0 of each consumer warp once its warpgroup's wgmmas that
//                read the stage have completed.
// Units: CTA u of the ABI grid (ceil(S / (64 NC)), H, B), flattened, takes unit u of the
// (row block, head) sequence (non-causal: a head's row blocks together; causal: the longest
// first), one unit per CTA (a persistent form with a second Q buffer needed more than 96
// registers and spilled).  Each consumer warpgroup loads its Q rows by cp.async and stages
// its O through them at the end.  Registers: NC = 4 is 17 warps in one CTA, so one SM
// sub-partition holds 5 of them and its register file (16384) allows 96 each; NC = 2 runs
// 2 CTAs per SM (18 warps) under the same cap.  The entries cap at 96 (__maxnreg__).
#pragma once
#include "fa_wg_tma.cuh"

// A Q tile per consumer warpgroup + NS stages + a full and an empty mbarrier per stage.
#define FA_WG_TMA_WSN_SMEM_BYTES(D, BN, NS, NC) \
    ((NC) * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 16 * (NS))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

template <int D, int BN, int NS, bool POS, bool LAZY, int NC>
__device__ __forceinline__ void fwd_tma_wsn(const __half* __restrict__ Q,
                                            const CUtensorMap* tmK, const CUtensorMap* tmV,
                                            __half* __restrict__ O, int B, int H, int S,
                                            float softmax_scale, int causal,
                                            unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(NC >= 1 && NC <= 4, "1..4 consumer warpgroups");
    constexpr int kBlockM = 64 * NC;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int n_mblk = (S + kBlockM - 1) / kBlockM;
    const int hb = H * B;
    const int first =
        static_cast<int>(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z));
    auto unit_m0 = [&](int u) {
        return (causal ? n_mblk - 1 - u / hb : u % n_mblk) * kBlockM;
    };
    auto unit_bh = [&](int u) { return causal ? u % hb : u / n_mblk; };
    auto unit_tiles = [&](int m0) {
        const int n_end = causal ? min(S, m0 + kBlockM) : S;
        return (n_end + BN - 1) / BN;
    };

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + NC * C::kQBytes;
    const u32 sFull = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sFull + 8 * NS;
    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, 1);
            mbar_init(sEmpty + 8 * st, 4 * NC);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();  // barriers initialised before anyone uses them

    if (warp == 4 * NC) {  // ---- producer warp ----
        if (lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
            const int u = first;
            const int bh = unit_bh(u);
            const int nt = unit_tiles(unit_m0(u));
            for (int i = 0; i < nt; ++i) {
                const int sidx = i % NS;
                if (i >= NS) mbar_wait_bounded(sEmpty + 8 * sidx, ((i / NS) - 1) & 1);
                const u32 st = sStages + sidx * C::kStageBytes;
                const u32 bar = sFull + 8 * sidx;
                mbar_expect_tx(bar, C::kStageBytes);
#pragma unroll
                for (int a = 0; a < C::kAtoms; ++a) {
#pragma unroll
                    for (int r = 0; r < BN / 64; ++r) {
                        const u32 off = a * (BN * 128) + r * (64 * 128);
                        tma_load_3d(st + off, tmK, bar, 64 * a, i * BN + 64 * r, bh);
                        tma_load_3d(st + C::kKvBytes + off, tmV, bar, 64 * a, i * BN + 64 * r,
                                    bh);
                    }
                }
            }
        }
        return;
    }

    // ---- consumer warpgroup g ----
    const int g = warp >> 2;
    const int wq = warp & 3;
    const int ctid = tid & 127;
    const int wg_bar = 1 + g;
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u32 sQg = sQ + g * C::kQBytes;
    {
        const int u = first;
        const int m0 = unit_m0(u);
        const size_t head = static_cast<size_t>(unit_bh(u)) * S * D;
        const int n_tiles = unit_tiles(m0);
        load_rows<64, D>(sQg, Q + head, m0 + 64 * g, S, ctid);
        cp_async_commit();
        const int w_row0 = m0 + 64 * g + wq * 16;
        const int q_row0 = w_row0 + gid;
        // Causal: the tiles this warpgroup's rows need (the unit's last ones may be all future).
        const int my_tiles = causal ? (min(S, m0 + 64 * (g + 1)) + BN - 1) / BN : n_tiles;
        float o[C::kO], s[C::kS], row_max[2], row_sum[2];
        reset_rows<D, BN>(o, s, row_max, row_sum);
        const u64 desc_q = make_desc_sw128(sQg, 16, 1024);
        cp_async_wait<0>();
        fence_proxy_async();
        named_bar_sync(wg_bar, 128);  // the warpgroup's Q rows have landed
        for (int t = 0; t < my_tiles; ++t) {
            mbar_wait_bounded(sFull + 8 * (t % NS), (t / NS) & 1);
            const u32 st = sStages + (t % NS) * C::kStageBytes;
            plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                         [st] { return st; }, t * BN, q_row0, w_row0, S,
                                         causal);
            __syncwarp();
            if (lane == 0) mbar_arrive(sEmpty + 8 * (t % NS));
        }
        // Causal: tiles of the unit this warpgroup does not need are still released, each
        // after its full barrier (so the arrive counts toward that tile's phase of empty[]).
        for (int t = my_tiles; t < n_tiles; ++t) {
            mbar_wait_bounded(sFull + 8 * (t % NS), (t / NS) & 1);
            __syncwarp();
            if (lane == 0) mbar_arrive(sEmpty + 8 * (t % NS));
        }
        store_o<D>(o, row_sum, smem_raw + (sQg - sQ), wq, O + head, w_row0, S);
    }
}


__device__ __forceinline__ void named_bar_arrive_n(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// fwd_tma_wsp: fwd_tma_wsn made persistent (DELAY: see the consumer's start) (a 1-D grid of at most one CTA per SM loops over
// the units: u = blockIdx.x, + gridDim.x, ...; the producer runs ahead across units, each
// consumer warpgroup loads the next unit's Q into its second buffer while it computes this
// one), and with STAG the warpgroups take turns at S = Q K^T (non-causal only): warpgroup g
// waits on named barrier 5 + g, issues and waits for its S, then arrives on barrier
// 5 + (g + 1) % NC, so the warpgroups' softmaxes fall under each other's GEMMs instead of
// all running at once (FlashAttention-3's ping-pong, for NC warpgroups and S only).
// Shared memory: 2 NC Q tiles + NS stages + barriers (FA_WG_TMA_WSP_SMEM_BYTES).
template <int D, int BN, int NS, bool POS, bool LAZY, int NC, bool STAG, int DELAY>
__device__ __forceinline__ void fwd_tma_wsp(const __half* __restrict__ Q,
                                            const CUtensorMap* tmK, const CUtensorMap* tmV,
                                            __half* __restrict__ O, int B, int H, int S,
                                            float softmax_scale, int causal,
                                            unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(NC >= 1 && NC <= 4, "1..4 consumer warpgroups");
    constexpr int kBlockM = 64 * NC;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int n_mblk = (S + kBlockM - 1) / kBlockM;
    const int hb = H * B;
    const int n_units = n_mblk * hb;
    auto unit_m0 = [&](int u) {
        return (causal ? n_mblk - 1 - u / hb : u % n_mblk) * kBlockM;
    };
    auto unit_bh = [&](int u) { return causal ? u % hb : u / n_mblk; };
    auto unit_tiles = [&](int m0) {
        const int n_end = causal ? min(S, m0 + kBlockM) : S;
        return (n_end + BN - 1) / BN;
    };

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + 2 * NC * C::kQBytes;
    const u32 sFull = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sFull + 8 * NS;
    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, 1);
            mbar_init(sEmpty + 8 * st, 4 * NC);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp == 4 * NC) {  // ---- producer warp ----
        if (lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
            int i = 0;
            for (int u = blockIdx.x; u < n_units; u += gridDim.x) {
                const int bh = unit_bh(u);
                const int nt = unit_tiles(unit_m0(u));
                for (int t = 0; t < nt; ++t, ++i) {
                    const int sidx = i % NS;
                    if (i >= NS) mbar_wait_bounded(sEmpty + 8 * sidx, ((i / NS) - 1) & 1);
                    const u32 st = sStages + sidx * C::kStageBytes;
                    const u32 bar = sFull + 8 * sidx;
                    mbar_expect_tx(bar, C::kStageBytes);
#pragma unroll
                    for (int a = 0; a < C::kAtoms; ++a) {
#pragma unroll
                        for (int r = 0; r < BN / 64; ++r) {
                            const u32 off = a * (BN * 128) + r * (64 * 128);
                            tma_load_3d(st + off, tmK, bar, 64 * a, t * BN + 64 * r, bh);
                            tma_load_3d(st + C::kKvBytes + off, tmV, bar, 64 * a,
                                        t * BN + 64 * r, bh);
                        }
                    }
                }
            }
        }
        return;
    }

    // ---- consumer warpgroup g ----
    const int g = warp >> 2;
    const int wq = warp & 3;
    const int ctid = tid & 127;
    const int wg_bar = 1 + g;
    const bool stag = STAG && NC > 1 && !causal;
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    auto q_buf = [&](int k) -> u32 { return sQ + ((k & 1) * NC + g) * C::kQBytes; };
    auto load_q = [&](int u, int k) {
        load_rows<64, D>(q_buf(k), Q + static_cast<size_t>(unit_bh(u)) * S * D,
                         unit_m0(u) + 64 * g, S, ctid);
        cp_async_commit();
    };
    if (static_cast<int>(blockIdx.x) < n_units) load_q(blockIdx.x, 0);
    if (stag && g == NC - 1) named_bar_arrive_n(5, 128 * 2);  // warpgroup 0 goes first
    // DELAY: warpgroup g starts g x DELAY cycles late, so that the warpgroups' phases (S,
    // softmax, P V) stay apart: with the ring loaded ahead nothing re-aligns them.
    if constexpr (DELAY > 0) {
        if (g > 0) {
            const long long t0 = clock64();
            while (clock64() - t0 < static_cast<long long>(DELAY) * g) {
            }
        }
    }

    int base = 0;  // ring position of the current unit's first tile
    int k = 0;     // units of this CTA before the current one
    for (int u = blockIdx.x; u < n_units; u += gridDim.x, ++k) {
        const bool more = u + static_cast<int>(gridDim.x) < n_units;
        if (more) {
            load_q(u + gridDim.x, k + 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        fence_proxy_async();
        named_bar_sync(wg_bar, 128);  // the warpgroup's Q rows have landed

        const int m0 = unit_m0(u);
        const int n_tiles = unit_tiles(m0);
        const int w_row0 = m0 + 64 * g + wq * 16;
        const int q_row0 = w_row0 + gid;
        const int my_tiles = causal ? (min(S, m0 + 64 * (g + 1)) + BN - 1) / BN : n_tiles;
        float o[C::kO], s[C::kS], row_max[2], row_sum[2];
        reset_rows<D, BN>(o, s, row_max, row_sum);
        const u64 desc_q = make_desc_sw128(q_buf(k), 16, 1024);
        for (int t = 0; t < my_tiles; ++t) {
            const int i = base + t;
            mbar_wait_bounded(sFull + 8 * (i % NS), (i / NS) & 1);
            const u32 st = sStages + (i % NS) * C::kStageBytes;
            if (stag) named_bar_sync(5 + g, 128 * 2);
            wg_fence();
            gemm_qk<D, BN>(s, desc_q, make_desc_sw128(st, 16, 1024));
            wg_commit();
            wg_wait<0>();
            fence_regs(s);
            // The last warpgroup gives no turn after the kernel's last S (nobody waits for it).
            if (stag && (g != NC - 1 || more || t + 1 < my_tiles))
                named_bar_arrive_n(5 + (g + 1) % NC, 128 * 2);
            u32 pf[BN / 16][4];
            softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, t * BN,
                                           q_row0, w_row0, S, causal);
            wg_fence();
            gemm_pv<D, BN>(o, pf, make_desc_sw128(st + BN * D * 2, BN * 128, 1024));
            wg_commit();
            wg_wait<0>();
            fence_regs(o);
            fence_regs(pf);
            __syncwarp();
            if (lane == 0) mbar_arrive(sEmpty + 8 * (i % NS));
        }
        for (int t = my_tiles; t < n_tiles; ++t) {
            const int i = base + t;
            mbar_wait_bounded(sFull + 8 * (i % NS), (i / NS) & 1);
            __syncwarp();
            if (lane == 0) mbar_arrive(sEmpty + 8 * (i % NS));
        }
        store_o<D>(o, row_sum, smem_raw + (q_buf(k) - sQ), wq,
                   O + static_cast<size_t>(unit_bh(u)) * S * D, w_row0, S);
        named_bar_sync(wg_bar, 128);  // staging reads done before the buffer takes a Q again
        base += n_tiles;
    }
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_WSN_ENTRY(name, head dim, keys per tile, stages, lazy, consumer warpgroups,
//   register cap (__maxnreg__; 96 lets 5 warps share a sub-partition)): ABI attention_fwd_tma_v1 with block_m 64 NC (or any smaller
//   grid: persistent), 128 NC + 32 threads, FA_WG_TMA_WSN_SMEM_BYTES(D, BN, NS, NC).
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_WSN_BODY(D_, BN_, NS_, LAZY_, NC_)                                         \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_wsn<D_, BN_, NS_, true, LAZY_, NC_>(Q, &tmK, &tmV, O, B, H, S,        \
                                                           softmax_scale, causal, fa_wg_smem); \
    } else {                                                                                 \
        fa_wg::fwd_tma_wsn<D_, BN_, NS_, false, LAZY_, NC_>(Q, &tmK, &tmV, O, B, H, S,       \
                                                            softmax_scale, causal,           \
                                                            fa_wg_smem);                     \
    }
#else
#define FA_WG_TMA_WSN_BODY(D_, BN_, NS_, LAZY_, NC_) \
    (void)Q; (void)O; (void)B; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_WSN_ENTRY(NAME, D_, BN_, NS_, LAZY_, NC_, REGS_)                           \
    extern "C" __global__ void __maxnreg__(REGS_)                                       \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_WSN_BODY(D_, BN_, NS_, LAZY_, NC_)                                         \
    }

// A persistent entry: FA_WG_TMA_WSP_ENTRY(name, D, BN, NS, lazy, NC, stagger, delay, register
// cap);
// grid min(units, SMs) x 1 x 1, 128 NC + 32 threads, FA_WG_TMA_WSP_SMEM_BYTES(D, BN, NS, NC).
#define FA_WG_TMA_WSP_SMEM_BYTES(D, BN, NS, NC) \
    (2 * (NC) * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 16 * (NS))
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_WSP_BODY(D_, BN_, NS_, LAZY_, NC_, ST_, DL_)                                   \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_wsp<D_, BN_, NS_, true, LAZY_, NC_, ST_, DL_>(Q, &tmK, &tmV, O, B, H, S,   \
                                                                softmax_scale, causal,       \
                                                                fa_wg_smem);                 \
    } else {                                                                                 \
        fa_wg::fwd_tma_wsp<D_, BN_, NS_, false, LAZY_, NC_, ST_, DL_>(Q, &tmK, &tmV, O, B, H, S,  \
                                                                 softmax_scale, causal,      \
                                                                 fa_wg_smem);                \
    }
#else
#define FA_WG_TMA_WSP_BODY(D_, BN_, NS_, LAZY_, NC_, ST_, DL_) \
    (void)Q; (void)O; (void)B; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_WSP_ENTRY(NAME, D_, BN_, NS_, LAZY_, NC_, ST_, DL_, REGS_)                    \
    extern "C" __global__ void __maxnreg__(REGS_)                                            \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_WSP_BODY(D_, BN_, NS_, LAZY_, NC_, ST_, DL_)                              \
    }
