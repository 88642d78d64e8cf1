// fa_wg_tma_wsr.cuh -- prototypes for the harness (fa_wg_selfcheck.cu), not in fa_tc; three
// bodies on fa_wg_tma.cuh's TMA ring, measured against it at canon_6 (NOTES.md, v15):
//   fwd_tma_wsr   FlashAttention-3's / cuDNN's structure with register reallocation;
//   fwd_tma_dual  one warpgroup holding two 64-row blocks that share each K / V stage;
//   fwd_tma_ls    the shipped body with the softmax's row sums on the tensor cores.
// fwd_tma_wsr: a CTA of 384 threads computes units of 128 query rows of one head:
//   warpgroups 0 and 1 (consumers) own rows 0..63 and 64..127 of the unit and share every
//     K / V stage; after setmaxnreg.inc to REG_C registers each runs FlashAttention-3's
//     intra-warpgroup overlap (S(t) and P V(t-1) in flight together), optionally in
//     ping-pong with the other (PP: named barriers 2 and 3 give the tensor cores to one
//     warpgroup at a time, so that one's softmax runs under the other's GEMMs; non-causal);
//   warpgroup 2 (producer) gives its registers back (setmaxnreg.dec to REG_P) and one
//     thread issues every tile's bulk tensor copies into an NS-stage ring:
//       full[s]  (count 1): the producer's arrive.expect_tx, completed by the TMA;
//       empty[s] (count 8): lane 0 of each consumer warp once its warpgroup's wgmmas that
//                read the stage (S and P V of the tile) have retired.
// Units: the CTA takes units first, first + stride, ... of the (row block, head) sequence
// (non-causal: row blocks of a head together; causal: the longest row blocks first), so the
// ABI grid (ceil(S / 128), H, B) runs one unit per CTA and a persistent grid of a few CTAs
// per SM loops; the producer runs ahead across units.  Each consumer warpgroup loads its Q
// rows by cp.async into one of two buffers, the next unit's Q while this one computes; O is
// staged through the current buffer.  MINB CTAs per SM: the launch gets 65536 / (384 MINB)
// registers per thread; the producer's release must cover the consumers' increase.
#pragma once
#include <type_traits>

#include "fa_wg_tma.cuh"

// Two Q buffers per consumer warpgroup + NS stages + a full and an empty mbarrier per stage.
#define FA_WG_TMA_WSR_SMEM_BYTES(D, BN, NS) \
    (4 * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 16 * (NS))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
__device__ __forceinline__ void named_bar_arrive_n(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

template <int D, int BN, int NS, bool POS, bool LAZY, bool PP, int MINB, int REG_P, int REG_C>
__device__ __forceinline__ void fwd_tma_wsr(const __half* __restrict__ Q,
                                            const CUtensorMap* tmK, const CUtensorMap* tmV,
                                            __half* __restrict__ O, int B, int H, int S,
                                            float softmax_scale, int causal,
                                            unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(NS >= 2, "two stages at least");
    static_assert(REG_P % 8 == 0 && REG_C % 8 == 0 && REG_P >= 24 && REG_C <= 256,
                  "setmaxnreg counts");
    // Registers per thread at launch (ptxas rounds down to 8): the producer's release must
    // cover both consumer warpgroups' increase.
    static_assert(((65536 / (384 * MINB)) & ~7) * 3 >= REG_P + 2 * REG_C, "register budget");
    constexpr int kBlockM = 128;
    constexpr int kConsumers = 256;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int n_mblk = (S + kBlockM - 1) / kBlockM;
    const int hb = H * B;
    const int n_units = n_mblk * hb;
    const int first = static_cast<int>(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z));
    const int stride = static_cast<int>(gridDim.x * gridDim.y * gridDim.z);
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
    const u32 sStages = sQ + 4 * C::kQBytes;
    const u32 sFull = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sFull + 8 * NS;
    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, 1);
            mbar_init(sEmpty + 8 * st, 8);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();  // barriers initialised before anyone uses them

    const int g = warp >> 2;
    if (g == 2) {  // ---- producer warpgroup ----
        setmaxnreg_dec<REG_P>();
        if (warp == 8 && lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
            int i = 0;  // tiles issued by this CTA so far
            for (int u = first; u < n_units; u += stride) {
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
    setmaxnreg_inc<REG_C>();
    const int wq = warp & 3;
    const int ctid = tid & 127;
    const bool pp = PP && !causal;
    const int my_bar = 2 + g, other_bar = 2 + (g ^ 1), wg_bar = 4 + g;
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    auto q_buf = [&](int k) -> u32 { return sQ + ((k & 1) * 2 + g) * C::kQBytes; };
    auto load_q = [&](int u, int k) {
        load_rows<64, D>(q_buf(k), Q + static_cast<size_t>(unit_bh(u)) * S * D,
                         unit_m0(u) + 64 * g, S, ctid);
        cp_async_commit();
    };
    if (first < n_units) load_q(first, 0);

    int base = 0;  // this CTA's tiles before the current unit
    int k = 0;     // this CTA's units before the current one
    for (int u = first; u < n_units; u += stride, ++k) {
        const int m0 = unit_m0(u);
        const size_t head = static_cast<size_t>(unit_bh(u)) * S * D;
        const int n_tiles = unit_tiles(m0);
        if (u + stride < n_units) {
            load_q(u + stride, k + 1);
            cp_async_wait<1>();  // this unit's Q (this thread's copies)
        } else {
            cp_async_wait<0>();
        }
        fence_proxy_async();
        named_bar_sync(wg_bar, 128);  // the warpgroup's Q rows have landed

        const int w_row0 = m0 + 64 * g + wq * 16;
        const int q_row0 = w_row0 + gid;
        // Causal: the tiles this warpgroup's rows need (the unit's last one may be all future).
        const int my_tiles = causal ? (min(S, m0 + 64 * (g + 1)) + BN - 1) / BN : n_tiles;
        if (pp && g == 1) named_bar_arrive_n(2, kConsumers);  // warpgroup 0 goes first

        float o[C::kO], s[C::kS], row_max[2], row_sum[2];
        reset_rows<D, BN>(o, s, row_max, row_sum);
        const u64 desc_q = make_desc_sw128(q_buf(k), 16, 1024);
        auto stage_of = [&](int t) -> u32 {
            return sStages + ((base + t) % NS) * C::kStageBytes;
        };
        auto release = [&](int t) {  // this warp is done with tile t's stage
            __syncwarp();
            if (lane == 0) mbar_arrive(sEmpty + 8 * ((base + t) % NS));
        };
        auto wait_full = [&](int t) {
            mbar_wait_bounded(sFull + 8 * ((base + t) % NS), ((base + t) / NS) & 1);
        };

        // Tile 0: S(0), its softmax (O is zero: no rescale), P(0).
        wait_full(0);
        if (pp) named_bar_sync(my_bar, kConsumers);
        wg_fence();
        gemm_qk<D, BN>(s, desc_q, make_desc_sw128(stage_of(0), 16, 1024));
        wg_commit();
        if (pp && (my_tiles > 1 || g == 0)) named_bar_arrive_n(other_bar, kConsumers);
        wg_wait<0>();
        fence_regs(s);
        float alpha[2];
        softmax_tile<BN, POS, LAZY>(s, row_max, row_sum, alpha, scale_log2, 0, q_row0, w_row0,
                                    S, causal);
        u32 pf[BN / 16][4];
        pack_p<BN>(s, pf);
        for (int t = 1; t < my_tiles; ++t) {
            wait_full(t);
            if (pp) named_bar_sync(my_bar, kConsumers);
            wg_fence();
            gemm_qk<D, BN>(s, desc_q, make_desc_sw128(stage_of(t), 16, 1024));
            wg_commit();
            gemm_pv<D, BN>(o, pf,
                           make_desc_sw128(stage_of(t - 1) + C::kKvBytes, BN * 128, 1024));
            wg_commit();
            // The other warpgroup's turn; warpgroup 1 gives none after its last phase.
            if (pp && (g == 0 || t + 1 < my_tiles)) named_bar_arrive_n(other_bar, kConsumers);
            wg_wait<1>();  // S(t); P V(t-1) may still run
            fence_regs(s);
            const bool re = softmax_tile<BN, POS, LAZY>(s, row_max, row_sum, alpha,
                                                        scale_log2, t * BN, q_row0, w_row0,
                                                        S, causal);
            if (re) {
                wg_wait<0>();
                fence_regs(o);
                rescale<D>(o, alpha);
            } else {
                wg_wait<0>();
                fence_regs(o);
            }
            release(t - 1);
            fence_regs(pf);
            pack_p<BN>(s, pf);
        }
        wg_fence();
        gemm_pv<D, BN>(o, pf,
                       make_desc_sw128(stage_of(my_tiles - 1) + C::kKvBytes, BN * 128, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        release(my_tiles - 1);
        // Causal: tiles of the unit this warpgroup does not need are still released, each
        // after its full barrier (so the arrive counts toward that tile's phase of empty[]).
        for (int t = my_tiles; t < n_tiles; ++t) {
            wait_full(t);
            release(t);
        }
        store_o<D>(o, row_sum, smem_raw + (q_buf(k) - sQ), wq, O + head, w_row0, S);
        named_bar_sync(wg_bar, 128);  // staging reads done before the buffer takes a Q again
        base += n_tiles;
    }
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_WSR_ENTRY(name, head dim, keys per tile, stages, lazy, ping-pong, CTAs per SM,
//   producer registers, consumer registers): ABI attention_fwd_tma_v1 with block_m 128
//   (or any smaller grid: persistent), 384 threads, FA_WG_TMA_WSR_SMEM_BYTES(D, BN, NS).
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_WSR_BODY(D_, BN_, NS_, LAZY_, PP_, MINB_, RP_, RC_)                        \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_wsr<D_, BN_, NS_, true, LAZY_, PP_, MINB_, RP_, RC_>(                 \
            Q, &tmK, &tmV, O, B, H, S, softmax_scale, causal, fa_wg_smem);                   \
    } else {                                                                                 \
        fa_wg::fwd_tma_wsr<D_, BN_, NS_, false, LAZY_, PP_, MINB_, RP_, RC_>(                \
            Q, &tmK, &tmV, O, B, H, S, softmax_scale, causal, fa_wg_smem);                   \
    }
#else
#define FA_WG_TMA_WSR_BODY(D_, BN_, NS_, LAZY_, PP_, MINB_, RP_, RC_) \
    (void)Q; (void)O; (void)B; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_WSR_ENTRY(NAME, D_, BN_, NS_, LAZY_, PP_, MINB_, RP_, RC_)                 \
    extern "C" __global__ void __launch_bounds__(384, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_WSR_BODY(D_, BN_, NS_, LAZY_, PP_, MINB_, RP_, RC_)                        \
    }

// ---- One warpgroup, two row blocks sharing each stage (fwd_tma_dual) ----
// fa_wg_tma.cuh's protocol (tid 0 arms and issues tile i into stage i % NS; every thread
// waits on the stage's mbarrier; one CTA barrier per tile frees it) for a CTA of 128 query
// rows held by ONE warpgroup as two 64-row blocks: each K / V tile crosses L2 once per 128
// rows (as cuDNN's CTAs do) while the SM keeps 3 CTAs, and the two blocks' chains overlap
// inside the warpgroup: S1 and S2 issued together, block 1's softmax under S2, block 2's
// softmax under P V of block 1.  ABI attention_fwd_tma_v1, block_m 128, 128 threads.
#define FA_WG_TMA_DUAL_SMEM_BYTES(D, BN, NS) (2 * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 8 * (NS))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {
// gemm_qk whose first k-step writes S without reading it ("=f"): the scores of the previous
// tile are dead once packed, so their registers can hold P while the next S is computed.
#define FA_WG_ACC32_W \
    "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]), "=f"(d[4]), "=f"(d[5]), "=f"(d[6]), \
    "=f"(d[7]), "=f"(d[8]), "=f"(d[9]), "=f"(d[10]), "=f"(d[11]), "=f"(d[12]), "=f"(d[13]), \
    "=f"(d[14]), "=f"(d[15]), "=f"(d[16]), "=f"(d[17]), "=f"(d[18]), "=f"(d[19]), \
    "=f"(d[20]), "=f"(d[21]), "=f"(d[22]), "=f"(d[23]), "=f"(d[24]), "=f"(d[25]), \
    "=f"(d[26]), "=f"(d[27]), "=f"(d[28]), "=f"(d[29]), "=f"(d[30]), "=f"(d[31])
__device__ __forceinline__ void wgmma_ss_fresh(float (&d)[32], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 0, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", %32, %33, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC32_W
        : "l"(desc_a), "l"(desc_b));
}
template <int D>
__device__ __forceinline__ void gemm_qk_fresh(float (&s)[32], u64 desc_q, u64 desc_k) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
        const u64 dq = desc_q + (((kk / 4) * 64 * 128 + (kk % 4) * 32) >> 4);
        const u64 dk = desc_k + (((kk / 4) * 64 * 128 + (kk % 4) * 32) >> 4);
        if (kk == 0) {
            wgmma_ss_fresh(s, dq, dk);
        } else {
            wgmma_ss<1>(s, dq, dk);
        }
    }
}

template <int D, int BN, int NS, bool POS, bool LAZY, bool XT>
__device__ __forceinline__ void fwd_tma_dual(const __half* __restrict__ Q,
                                             const CUtensorMap* tmK, const CUtensorMap* tmV,
                                             __half* __restrict__ O, int H, int S,
                                             float softmax_scale, int causal,
                                             unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;
    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * 128;
    if (m0 >= S) return;
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + 2 * C::kQBytes;
    const u32 sBar = sStages + NS * C::kStageBytes;
    const int n_end = causal ? min(S, m0 + 128) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int w_row0a = m0 + warp * 16, w_row0b = w_row0a + 64;
    const int q_row0a = w_row0a + gid, q_row0b = w_row0b + gid;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) mbar_init(sBar + 8 * st, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQ, Q + head, m0, S, tid);
    load_rows<64, D>(sQ + C::kQBytes, Q + head, m0 + 64, S, tid);
    cp_async_commit();
    __syncthreads();
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
    // Tiles issued ahead of the one computed: L, or L - 1 with XT (stage t - 1 still read).
    constexpr int kAhead = XT ? L - 1 : L;
    if (tid == 0) {
        for (int i = 0; i < kAhead && i < n_tiles; ++i) issue(i);
    }
    float oa[C::kO], ob[C::kO], sa[C::kS], sb[C::kS], max_a[2], max_b[2], sum_a[2], sum_b[2];
    reset_rows<D, BN>(oa, sa, max_a, sum_a);
    reset_rows<D, BN>(ob, sb, max_b, sum_b);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_qa = make_desc_sw128(sQ, 16, 1024);
    const u64 desc_qb = make_desc_sw128(sQ + C::kQBytes, 16, 1024);
    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();

    // XT: P V of block b of tile t - 1 is issued in iteration t, after S of both blocks of
    // tile t (FlashAttention-3's order: nothing in flight across the loop's back-edge): it
    // runs under block a's softmax; P V of block a runs under block b's softmax.  Stage
    // t - 1 is read until the end of iteration t, so tiles are issued one ahead less.
    static_assert(!XT || NS >= 3, "cross-tile overlap needs 3 stages");
    u32 pa[BN / 16][4], pb[BN / 16][4];
    // One tile; PVB: P V of block b of tile t - 1 goes in here (XT, t > 0: the loop peels
    // tile 0 so that each instance has one fixed wgmma schedule for ptxas).  XT order on the
    // tensor cores: S a(t), P V b(t - 1), S b(t), P V a(t): each block's softmax runs under
    // the other block's P V, and S of block b is issued only once block a's scores are
    // packed (their registers free).
    auto tile = [&](int t, auto pvb_tag) {
        constexpr bool PVB = decltype(pvb_tag)::value;
        if (tid == 0 && t + kAhead < n_tiles) issue(t + kAhead);
        mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        const u32 st = sStages + (t % NS) * C::kStageBytes;
        const u64 desc_k = make_desc_sw128(st, 16, 1024);
        const u64 desc_v = make_desc_sw128(st + C::kKvBytes, BN * 128, 1024);
        static_assert(BN == 64, "64-key tiles");
        wg_fence();
        gemm_qk_fresh<D>(sa, desc_qa, desc_k);
        wg_commit();
        if constexpr (XT) {
            if constexpr (PVB) {
                const u32 stp = sStages + ((t - 1) % NS) * C::kStageBytes;
                gemm_pv<D, BN>(ob, pb, make_desc_sw128(stp + C::kKvBytes, BN * 128, 1024));
                wg_commit();
                wg_wait<1>();  // S a(t); P V b(t - 1) may still run
            } else {
                wg_wait<0>();
            }
        } else {
            gemm_qk_fresh<D>(sb, desc_qb, desc_k);
            wg_commit();
            wg_wait<1>();  // S a(t); S b(t) may still run
        }
        fence_regs(sa);
        softmax_pack<D, BN, POS, LAZY>(sa, oa, max_a, sum_a, pa, scale_log2, t * BN, q_row0a,
                                       w_row0a, S, causal);
        wg_fence();
        if constexpr (XT) {
            gemm_qk_fresh<D>(sb, desc_qb, desc_k);
            wg_commit();
        }
        gemm_pv<D, BN>(oa, pa, desc_v);
        wg_commit();
        wg_wait<1>();  // S b(t) (and P V b(t - 1)); P V a(t) may still run
        fence_regs(sb);
        fence_regs(ob);
        fence_regs(pb);
        softmax_pack<D, BN, POS, LAZY>(sb, ob, max_b, sum_b, pb, scale_log2, t * BN, q_row0b,
                                       w_row0b, S, causal);
        if constexpr (!XT) {
            wg_fence();
            gemm_pv<D, BN>(ob, pb, desc_v);
            wg_commit();
        }
        wg_wait<0>();
        fence_regs(oa);
        fence_regs(ob);
        fence_regs(pa);
        fence_regs(pb);
        __syncthreads();  // nobody reads stage t (XT: t - 1) any more
    };
    if constexpr (XT) {
        if (n_tiles > 0) tile(0, std::false_type{});
        for (int t = 1; t < n_tiles; ++t) tile(t, std::true_type{});
    } else {
        for (int t = 0; t < n_tiles; ++t) tile(t, std::false_type{});
    }
    if constexpr (XT) {
        const u32 stp = sStages + ((n_tiles - 1) % NS) * C::kStageBytes;
        wg_fence();
        gemm_pv<D, BN>(ob, pb, make_desc_sw128(stp + C::kKvBytes, BN * 128, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(ob);
    }
    store_o<D>(oa, sum_a, smem_raw, warp, O + head, w_row0a, S);
    store_o<D>(ob, sum_b, smem_raw + C::kQBytes, warp, O + head, w_row0b, S);
}
}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_DUAL_BODY(D_, BN_, NS_, LAZY_, XT_)                                            \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_dual<D_, BN_, NS_, true, LAZY_, XT_>(Q, &tmK, &tmV, O, H, S, softmax_scale, \
                                                       causal, fa_wg_smem);                  \
    } else {                                                                                 \
        fa_wg::fwd_tma_dual<D_, BN_, NS_, false, LAZY_, XT_>(Q, &tmK, &tmV, O, H, S,              \
                                                        softmax_scale, causal, fa_wg_smem);  \
    }
#else
#define FA_WG_TMA_DUAL_BODY(D_, BN_, NS_, LAZY_, XT_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_DUAL_ENTRY(name, head dim, keys per tile, stages, lazy, min CTAs per SM):
//   ABI attention_fwd_tma_v1 with block_m 128, 128 threads, FA_WG_TMA_DUAL_SMEM_BYTES.
#define FA_WG_TMA_DUAL_ENTRY(NAME, D_, BN_, NS_, LAZY_, XT_, MINB_)                                \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_DUAL_BODY(D_, BN_, NS_, LAZY_, XT_)                                            \
    }


// ---- The shipped TMA body with the row sums on the tensor cores (fwd_tma_ls) ----
// fa_wg_tma.cuh's fwd_tma, except that l (the softmax's row sums) is accumulated by
// wgmma m64n8k16 from the packed P fragments against a 64 x 8 tile of ones in shared memory
// (l += P 1, next to O += P V) instead of 32 FADDs per thread per tile: the sums are over
// the fp16 P that P V uses, in fp32, and every lane of a quad holds its rows' full sums.
#define FA_WG_TMA_LS_SMEM_BYTES(D, BN, NS) (FA_WG_SMEM_BYTES(D, BN, NS) + 1024 + 8 * (NS))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {
using fa_common::fast_exp2;
template <int BN, bool POS, bool LAZY>
__device__ __forceinline__ bool softmax_tile_nosum(float (&s)[BN / 2], float (&row_max)[2],
                                             float (&alpha)[2],
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
    bool rescale = true;
    if constexpr (LAZY) {
        const bool grows = (mx[0] - row_max[0]) * c > fa_common::kLazyLog2 ||
                           (mx[1] - row_max[1]) * c > fa_common::kLazyLog2;
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
#pragma unroll
    for (int j = 0; j < kS / 4; ++j) {
        s[4 * j + 0] = fast_exp2(scaled_minus(s[4 * j + 0], m_c[0]));
        s[4 * j + 1] = fast_exp2(scaled_minus(s[4 * j + 1], m_c[0]));
        s[4 * j + 2] = fast_exp2(scaled_minus(s[4 * j + 2], m_c[1]));
        s[4 * j + 3] = fast_exp2(scaled_minus(s[4 * j + 3], m_c[1]));
    }
    return rescale;
}


// D(64x8,f32) += A(64x16, registers) * B(16x8, smem K-major SW128).
__device__ __forceinline__ void wgmma_rs_n8(float (&d)[4], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
}

template <int D, int BN, int NS, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_tma_ls(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                           const CUtensorMap* tmV, __half* __restrict__ O,
                                           int H, int S, float softmax_scale, int causal,
                                           unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
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
    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sOnes = sQ + C::kQBytes;  // 1024 B of fp16 ones (8 rows x 128 B, one atom)
    const u32 sStages = sOnes + 1024;
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
    load_rows<64, D>(sQ, Q + head, m0, S, tid);
    cp_async_commit();
    asm volatile("st.shared.v2.u32 [%0], {%1, %1};\n" ::"r"(sOnes + 8 * tid), "r"(0x3C003C00u)
                 : "memory");
    __syncthreads();
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
    float o[C::kO], s[C::kS], row_max[2], unused_sum[2], l[4] = {0.f, 0.f, 0.f, 0.f};
    reset_rows<D, BN>(o, s, row_max, unused_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);
    const u64 desc_ones = make_desc_sw128(sOnes, 16, 1024);
    cp_async_wait<0>();
    fence_proxy_async();  // Q (cp.async) and the ones (st.shared) for the async proxy
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        if (tid == 0 && t + L < n_tiles) issue(t + L);
        mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        const u32 st = sStages + (t % NS) * C::kStageBytes;
        wg_fence();
        gemm_qk<D, BN>(s, desc_q, make_desc_sw128(st, 16, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        float alpha[2];
        if (softmax_tile_nosum<BN, POS, LAZY>(s, row_max, alpha, scale_log2, t * BN, q_row0,
                                              w_row0, S, causal)) {
            rescale<D>(o, alpha);
            l[0] *= alpha[0];
            l[1] *= alpha[0];
            l[2] *= alpha[1];
            l[3] *= alpha[1];
        }
        u32 pf[BN / 16][4];
        pack_p<BN>(s, pf);
        wg_fence();
        gemm_pv<D, BN>(o, pf, make_desc_sw128(st + C::kKvBytes, BN * 128, 1024));
#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk) wgmma_rs_n8(l, pf[kk], desc_ones);
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        fence_regs(l);
        fence_regs(pf);
        FA_WG_TMA_AFTER_TILE();
    }
    // store_o sums its row over the quad: each lane holds the full sum, so a quarter each
    // (exact: powers of two).
    const float quarter[2] = {0.25f * l[0], 0.25f * l[2]};
    store_o<D>(o, quarter, smem_raw, warp, O + head, w_row0, S);
}
}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_LS_BODY(D_, BN_, NS_, LAZY_)                                                \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_ls<D_, BN_, NS_, true, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,  \
                                                     causal, fa_wg_smem);                    \
    } else {                                                                                 \
        fa_wg::fwd_tma_ls<D_, BN_, NS_, false, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale, \
                                                      causal, fa_wg_smem);                   \
    }
#else
#define FA_WG_TMA_LS_BODY(D_, BN_, NS_, LAZY_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_LS_ENTRY(name, head dim, keys per tile, stages, lazy, min CTAs per SM):
//   ABI attention_fwd_tma_v1, block_m 64, 128 threads, FA_WG_TMA_LS_SMEM_BYTES.
#define FA_WG_TMA_LS_ENTRY(NAME, D_, BN_, NS_, LAZY_, MINB_)                                  \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_LS_BODY(D_, BN_, NS_, LAZY_)                                                \
    }
