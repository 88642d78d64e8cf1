// fa_wg_tma_rows.cuh -- fa_wg_tma.cuh's body with WG warpgroups per CTA (row groups of 64
// query rows each, 128 WG threads) sharing every K / V stage: each tile crosses L2 once per
// 64 WG rows instead of once per 64, and, with BN = 128, each Q K^T wgmma reads Q from shared
// memory once per 128 keys.  A prototype for the harness (fa_wg_selfcheck.cu); not in fa_tc.
// Same protocol as fwd_tma: tid 0 arms stage i % NS and issues its bulk tensor copies; every
// thread waits on the stage's mbarrier; the barrier after each tile (all WG warpgroups) frees
// the stage.  Causal with 2 row groups: row group 0 needs fewer tiles than the CTA; it still
// waits for every tile and meets every barrier, computing only its own.
#pragma once
#include "fa_wg_tma.cuh"

// fwd_tma_ws (below): WGC Q tiles + NS stages + a full and an empty mbarrier per stage.
#define FA_WG_TMA_WS_SMEM_BYTES(D, BN, NS, WGC) \
    ((WGC) * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 16 * (NS))
// fwd_tma_pair (below): Q + NS stages + a full and an empty mbarrier per stage.
#define FA_WG_TMA_PAIR_SMEM_BYTES(D, BN, NS) (64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 16 * (NS))
#define FA_WG_TMA_ROWS_SMEM_BYTES(D, BN, NS, WG) \
    (WG * 64 * (D) * 2 + (NS) * 2 * (BN) * (D) * 2 + 8 * (NS))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

template <int D, int BN, int NS, bool POS, bool LAZY, int WG>
__device__ __forceinline__ void fwd_tma_rows(const __half* __restrict__ Q,
                                             const CUtensorMap* tmK, const CUtensorMap* tmV,
                                             __half* __restrict__ O, int H, int S,
                                             float softmax_scale, int causal,
                                             unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(WG >= 1 && WG <= 3, "1 to 3 row groups");
    constexpr int kBlockM = 64 * WG;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int rg = WG == 1 ? 0 : warp >> 2;  // row group
    const int wq = WG == 1 ? warp : warp & 3;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * kBlockM;
    if (m0 >= S) return;  // uniform per CTA
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sQw = sQ + rg * C::kQBytes;
    const u32 sStages = sQ + WG * C::kQBytes;
    const u32 sBar = sStages + NS * C::kStageBytes;

    const int n_end = causal ? min(S, m0 + kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int rg_tiles =
        (WG == 1 || !causal) ? n_tiles : (min(S, m0 + 64 * (rg + 1)) + BN - 1) / BN;
    const int w_row0 = m0 + rg * 64 + wq * 16;
    const int q_row0 = w_row0 + gid;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) mbar_init(sBar + 8 * st, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQw, Qh, m0 + 64 * rg, S, tid & 127);
    cp_async_commit();
    __syncthreads();

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
    // Speed-of-light build FA_WG_SOL=1 (timings only): the prologue fills every stage and
    // nothing is loaded after it (tile t computes on stage t % NS as it is).
    constexpr int kFirst = FA_WG_SOL == 1 ? NS : L;
    if (tid == 0) {
        for (int i = 0; i < kFirst && i < n_tiles; ++i) issue(i);
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQw, 16, 1024);

    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        if (FA_WG_SOL != 1 && tid == 0 && t + L < n_tiles) issue(t + L);
        if (FA_WG_SOL != 1 || t < NS) mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        if (WG == 1 || t < rg_tiles) {  // warpgroup-uniform
            const u32 st = sStages + (t % NS) * C::kStageBytes;
            plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                         [st] { return st; }, t * BN, q_row0, w_row0, S,
                                         causal);
        }
        __syncthreads();
    }
    store_o<D>(o, row_sum, smem_raw + rg * C::kQBytes, wq, Oh, w_row0, S);
}


// ---- Pairs of CTAs in a cluster sharing each K / V tile by TMA multicast ----
// The two CTAs of a cluster (__cluster_dims__(2, 1, 1): adjacent 64-row blocks of one head)
// need the same key tiles in the same order, so each issues half of every tile's boxes with
// .multicast::cluster into both CTAs' stage (same offsets): every tile crosses L2 once per
// 128 rows while each SM keeps its 5 one-warpgroup CTAs.  Barriers per stage s, in each CTA:
//   full[s]  (count 1): the local tid 0 arms it with the stage's whole byte count
//            (arrive.expect_tx); the copies of both CTAs complete_tx on it (a peer's bytes
//            may land before the arming: the tx-count goes negative, the phase still waits
//            for the arrive);
//   empty[s] (count 2): after a tile's CTA barrier (at the top of the next iteration: at the
//            bottom of the loop the arrives made ptxas spill and serialise the wgmmas),
//            tid 0 of each CTA arrives on its own and on the peer's (mapa +
//            release.cluster), so its completion tells a CTA that both have finished
//            reading the stage; tid 0 waits for it (acquire.cluster) before issuing its half
//            of the stage's next tile.  No arrive for a stage's last use.
// A cluster barrier after the barrier initialisation (nobody multicasts into a peer whose
// barriers are not ready) and at the end (nobody exits while the peer may still signal it).
// Causal: the pair's tile counts differ by one; both run the larger (the extra tile is fully
// masked for the CTA it is not needed by).  grid.x must be even (the launch fails otherwise); a CTA whose rows are all >= S
// still takes part in the loads.
__device__ __forceinline__ u32 cluster_rank() {
    u32 r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ u32 map_to_rank(u32 addr, u32 rank) {
    u32 r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
    return r;
}
__device__ __forceinline__ void mbar_arrive_cluster(u32 cluster_addr) {
    asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n"
                 ::"r"(cluster_addr) : "memory");
}
// One asm loop (no counter held in registers through the caller's loop).
__device__ __forceinline__ void mbar_wait_cluster(u32 bar, u32 parity) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "FA_WG_PAIR_WAIT:\n"
        "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%0], %1;\n"
        "@!p bra FA_WG_PAIR_WAIT;\n}\n" ::"r"(bar), "r"(parity)
        : "memory");
}
__device__ __forceinline__ void tma_load_3d_mc(u32 dst, const CUtensorMap* map, u32 bar,
                                               int c0, int c1, int c2, unsigned short mask) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
        ".multicast::cluster [%0], [%1, {%3, %4, %5}], [%2], %6;\n" ::"r"(dst),
        "l"(reinterpret_cast<u64>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "h"(mask)
        : "memory");
}


template <int D, int BN, int NS, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_tma_pair(const __half* __restrict__ Q,
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
    const int m0 = mblk * C::kBlockM;
    const int peer_m0 = (causal ? static_cast<int>(gridDim.x - 1 - (blockIdx.x ^ 1u))
                                : static_cast<int>(blockIdx.x ^ 1u)) * C::kBlockM;
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + C::kQBytes;
    const u32 sFull = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sFull + 8 * NS;

    auto tiles_of = [&](int r0) {
        const int e = causal ? min(S, r0 + C::kBlockM) : S;
        return r0 < S ? (e + BN - 1) / BN : 0;
    };
    const int n_tiles = max(tiles_of(m0), tiles_of(peer_m0));  // the pair's loop
    const int w_row0 = m0 + warp * 16;
    const int q_row0 = w_row0 + gid;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, 1);
            mbar_init(sEmpty + 8 * st, 2);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQ, Qh, m0, S, tid);  // rows >= S zero-filled
    cp_async_commit();
    cluster_sync();  // both CTAs' barriers initialised before anyone multicasts

    // This CTA's half of tile i into stage i % NS of both CTAs (tid 0 only).
    auto issue = [&](int i) {
        const int sidx = i % NS;
        if (i >= NS) mbar_wait_cluster(sEmpty + 8 * sidx, ((i / NS) - 1) & 1);
        const u32 st = sStages + sidx * C::kStageBytes;
        const u32 bar = sFull + 8 * sidx;
        mbar_expect_tx(bar, C::kStageBytes);
        // Rank 0 issues the K boxes, rank 1 the V boxes (the rank read here, in tid 0's
        // branch, rather than held in a register through the loop).
        const u32 rank = cluster_rank();
        const CUtensorMap* map = rank ? tmV : tmK;
        const u32 dst = st + rank * C::kKvBytes;
#pragma unroll
        for (int a = 0; a < C::kAtoms; ++a) {
#pragma unroll
            for (int r = 0; r < BN / 64; ++r) {
                tma_load_3d_mc(dst + a * (BN * 128) + r * (64 * 128), map, bar, 64 * a,
                               i * BN + 64 * r, bh, 0x3);
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

    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        if (tid == 0) {
            // Stage (t - 1) % NS is free here (the barrier that ended tile t - 1): tell both
            // CTAs, unless it is not used again.
            if (t > 0 && t - 1 + NS < n_tiles) {
                const u32 e = sEmpty + 8 * ((t - 1) % NS);
                mbar_arrive_cluster(e);  // a shared::cta address is this CTA's in the cluster window
                mbar_arrive_cluster(map_to_rank(e, cluster_rank() ^ 1u));
            }
            if (t + L < n_tiles) issue(t + L);
        }
        mbar_wait_bounded(sFull + 8 * (t % NS), (t / NS) & 1);
        // Every tile of the pair's loop, also (causal) the one past this CTA's own: all
        // its keys are after every row here, so it is fully masked and adds nothing.
        const u32 st = sStages + (t % NS) * C::kStageBytes;
        plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                     [st] { return st; }, t * BN, q_row0, w_row0, S, causal);
        __syncthreads();  // nobody here reads stage t % NS any more
    }
    store_o<D>(o, row_sum, smem_raw, warp, Oh, w_row0, S);  // rows >= S not written
    cluster_sync();  // the peer no longer signals this CTA's barriers
}

// ---- A producer warp and WGC consumer warpgroups (FlashAttention-3's structure) ----
// Threads 128 WGC + 32: warpgroup g (warps 4g..4g+3) owns query rows 64g.. of the CTA's
// 64 WGC; the last warp is the producer, whose lane 0 issues every tile's K / V copies into
// an NS-stage ring: tile i into stage i % NS once empty[i % NS] has completed for tile i - NS.
//   full[s]  (count 1): the producer's arrive.expect_tx; the TMA completes it;
//   empty[s] (count 4 WGC): lane 0 of each consumer warp, once the wgmmas of its warpgroup
//            that read the stage (S of tile i and P V of tile i) have retired.
// Consumers run FlashAttention-3's intra-warpgroup overlap (the OVL order of v10): iteration
// t issues S(t) and then P V(t-1), waits for S(t) alone, runs the softmax of tile t while
// P V(t-1) is on the tensor cores, then waits for it, rescales O and packs P(t).  PP: the
// warpgroups take turns to issue their GEMMs (named barriers 2 + g, FlashAttention-3's
// ping-pong), so that one's softmax runs under the other's GEMMs; non-causal only (both
// warpgroups then have the same tile count, which the turn counting needs).  No CTA-wide
// barrier after the roles split: each warpgroup stages its O in its own Q tile.
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

template <int D, int BN, int NS, bool POS, bool LAZY, int WGC, bool PP>
__device__ __forceinline__ void fwd_tma_ws(const __half* __restrict__ Q,
                                           const CUtensorMap* tmK, const CUtensorMap* tmV,
                                           __half* __restrict__ O, int H, int S,
                                           float softmax_scale, int causal,
                                           unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(NS >= 3, "stage t is read until iteration t + 1");
    static_assert(WGC == 1 || WGC == 2, "1 or 2 consumer warpgroups");
    constexpr int kBlockM = 64 * WGC;
    constexpr int kConsumers = 128 * WGC;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * kBlockM;
    if (m0 >= S) return;  // uniform per CTA
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + WGC * C::kQBytes;
    const u32 sFull = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sFull + 8 * NS;
    const int n_end = causal ? min(S, m0 + kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, 1);
            mbar_init(sEmpty + 8 * st, 4 * WGC);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    const int g = warp >> 2;  // consumer warpgroup (WGC: the producer warp)
    if (g < WGC) {
        load_rows<64, D>(sQ + g * C::kQBytes, Q + head, m0 + 64 * g, S, tid & 127);
        cp_async_commit();
        cp_async_wait<0>();
        fence_proxy_async();
    }
    __syncthreads();  // barriers initialised, every Q tile landed

    if (g == WGC) {  // ---- producer warp ----
        if (lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
            for (int i = 0; i < n_tiles; ++i) {
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
    const int wq = warp & 3;
    const int w_row0 = m0 + 64 * g + wq * 16;
    const int q_row0 = w_row0 + gid;
    // Causal: the tiles this warpgroup's rows need (the CTA's last one may be all future).
    const int my_tiles = causal ? (min(S, m0 + 64 * (g + 1)) + BN - 1) / BN : n_tiles;
    const bool pp = PP && WGC == 2 && !causal;
    const int my_bar = 2 + g, other_bar = 2 + (g ^ 1);
    if (pp && g == 1) named_bar_arrive(2, kConsumers);  // warpgroup 0 goes first

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ + g * C::kQBytes, 16, 1024);
    auto stage_of = [&](int i) -> u32 { return sStages + (i % NS) * C::kStageBytes; };
    auto release = [&](int i) {  // this warp is done with stage i % NS
        __syncwarp();
        if (lane == 0) mbar_arrive(sEmpty + 8 * (i % NS));
    };
    auto wait_full = [&](int i) { mbar_wait_bounded(sFull + 8 * (i % NS), (i / NS) & 1); };

    // Tile 0: S(0), its softmax (O is zero: no rescale), P(0).
    wait_full(0);
    if (pp) named_bar_sync(my_bar, kConsumers);
    wg_fence();
    gemm_qk<D, BN>(s, desc_q, make_desc_sw128(stage_of(0), 16, 1024));
    wg_commit();
    if (pp && my_tiles > 1) named_bar_arrive(other_bar, kConsumers);
    if (pp && my_tiles == 1 && g == 0) named_bar_arrive(other_bar, kConsumers);
    wg_wait<0>();
    fence_regs(s);
    float alpha[2];
    softmax_tile<BN, POS, LAZY>(s, row_max, row_sum, alpha, scale_log2, 0, q_row0, w_row0, S,
                                causal);
    u32 pf[BN / 16][4];
    pack_p<BN>(s, pf);
    for (int t = 1; t < my_tiles; ++t) {
        wait_full(t);
        if (pp) named_bar_sync(my_bar, kConsumers);
        wg_fence();
        gemm_qk<D, BN>(s, desc_q, make_desc_sw128(stage_of(t), 16, 1024));
        wg_commit();
        gemm_pv<D, BN>(o, pf, make_desc_sw128(stage_of(t - 1) + C::kKvBytes, BN * 128, 1024));
        wg_commit();
        // The other warpgroup's turn; warpgroup 1 gives none after its last phase (warpgroup
        // 0 syncs once per phase, and had one arrive up front).
        if (pp && (g == 0 || t + 1 < my_tiles)) named_bar_arrive(other_bar, kConsumers);
        wg_wait<1>();  // S(t); P V(t-1) may still run
        fence_regs(s);
        const bool re = softmax_tile<BN, POS, LAZY>(s, row_max, row_sum, alpha, scale_log2,
                                                    t * BN, q_row0, w_row0, S, causal);
        // The wait for P V(t-1) in both arms (v10: ptxas hoists a WARPGROUP.DEPBAR to the
        // top of its basic block, before the exponentials if they shared it).
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
    // Causal: tiles of the CTA this warpgroup does not need are still released, each after
    // its full barrier (so the arrive counts toward that tile's phase of empty[]).
    for (int t = my_tiles; t < n_tiles; ++t) {
        wait_full(t);
        release(t);
    }
    store_o<D>(o, row_sum, smem_raw + g * C::kQBytes, wq, O + head, w_row0, S);
}
}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_ROWS_ENTRY(name, head dim, keys per tile, stages, lazy, row groups, min CTAs/SM):
//   ABI attention_fwd_tma_v1; 128 x WG threads, block_m 64 x WG,
//   FA_WG_TMA_ROWS_SMEM_BYTES(D, BN, NS, WG) bytes.
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_ROWS_BODY(D_, BN_, NS_, LAZY_, WG_)                                         \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_rows<D_, BN_, NS_, true, LAZY_, WG_>(Q, &tmK, &tmV, O, H, S,          \
                                                            softmax_scale, causal, fa_wg_smem); \
    } else {                                                                                 \
        fa_wg::fwd_tma_rows<D_, BN_, NS_, false, LAZY_, WG_>(Q, &tmK, &tmV, O, H, S,         \
                                                             softmax_scale, causal,          \
                                                             fa_wg_smem);                    \
    }
#else
#define FA_WG_TMA_ROWS_BODY(D_, BN_, NS_, LAZY_, WG_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_PAIR_BODY(D_, BN_, NS_, LAZY_)                                              \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_pair<D_, BN_, NS_, true, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale, \
                                                       causal, fa_wg_smem);                  \
    } else {                                                                                 \
        fa_wg::fwd_tma_pair<D_, BN_, NS_, false, LAZY_>(Q, &tmK, &tmV, O, H, S,              \
                                                        softmax_scale, causal, fa_wg_smem);  \
    }
#else
#define FA_WG_TMA_PAIR_BODY(D_, BN_, NS_, LAZY_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_PAIR_ENTRY(name, head dim, keys per tile, stages, lazy, min CTAs per SM):
//   clusters of 2 CTAs along x (grid.x even), 128 threads, block_m 64,
//   FA_WG_TMA_PAIR_SMEM_BYTES(D, BN, NS) bytes.
#define FA_WG_TMA_PAIR_ENTRY(NAME, D_, BN_, NS_, LAZY_, MINB_)                                \
    extern "C" __global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(128, MINB_)        \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_PAIR_BODY(D_, BN_, NS_, LAZY_)                                              \
    }
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_WS_BODY(D_, BN_, NS_, LAZY_, WGC_, PP_)                                     \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_ws<D_, BN_, NS_, true, LAZY_, WGC_, PP_>(Q, &tmK, &tmV, O, H, S,      \
                                                                softmax_scale, causal,       \
                                                                fa_wg_smem);                 \
    } else {                                                                                 \
        fa_wg::fwd_tma_ws<D_, BN_, NS_, false, LAZY_, WGC_, PP_>(Q, &tmK, &tmV, O, H, S,     \
                                                                 softmax_scale, causal,      \
                                                                 fa_wg_smem);                \
    }
#else
#define FA_WG_TMA_WS_BODY(D_, BN_, NS_, LAZY_, WGC_, PP_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
//   FA_WG_TMA_WS_ENTRY(name, head dim, keys per tile, stages, lazy, consumer warpgroups,
//   ping-pong, min CTAs per SM): 128 WGC + 32 threads, block_m 64 WGC,
//   FA_WG_TMA_WS_SMEM_BYTES(D, BN, NS, WGC) bytes.
#define FA_WG_TMA_WS_ENTRY(NAME, D_, BN_, NS_, LAZY_, WGC_, PP_, MINB_)                       \
    extern "C" __global__ void __launch_bounds__(128 * (WGC_) + 32, MINB_)                   \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_WS_BODY(D_, BN_, NS_, LAZY_, WGC_, PP_)                                     \
    }
#define FA_WG_TMA_ROWS_ENTRY(NAME, D_, BN_, NS_, LAZY_, WG_, MINB_)                          \
    extern "C" __global__ void __launch_bounds__(128 * (WG_), MINB_)                         \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_ROWS_BODY(D_, BN_, NS_, LAZY_, WG_)                                         \
    }
