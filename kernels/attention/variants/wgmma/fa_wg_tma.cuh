// fa_wg_tma.cuh -- prototype: the wgmma body (fa_wg_core.cuh, plain schedule) with its K and
// V tiles brought in by the Tensor Memory Accelerator instead of cp.async.  Not part of any
// manifest: its entries take two tensor maps (CUtensorMap, built on the host with
// cuTensorMapEncodeTiled) instead of the K and V pointers of ABI attention_fwd_v1, so only
// the prototype harness (fa_wg_selfcheck.cu) runs them.  What it measures is the ceiling the
// speed-of-light build put at ~10% at canon_6 (NOTES.md, "Speed of light").
//
// Per CTA (64 query rows of one head, one warpgroup): Q by cp.async as before; key tile i
// goes into stage i % NS by one thread (tid 0), which arms the stage's mbarrier with the
// tile's byte count (arrive.expect_tx) and issues one cp.async.bulk.tensor per K / V swizzle
// atom (box 64 columns x BN rows x 1 head, SWIZZLE_128B: the layout the SW128 wgmma
// descriptors read); everyone waits on that mbarrier's phase (tile i / NS) before the tile's
// wgmmas.  The per-tile __syncthreads stays: it is what tells tid 0 that every warp has
// waited for its wgmmas on the stage it refills next (the empty side of the ring).
// Tensor maps (ABI attention_fwd_tma_v1, kernels/README.md): 3-D {D, S, B * H} fp16, strides
// {2 D, 2 S D} bytes, box {64, 64, 1}, 128-byte swizzle; rows past S of a head are outside
// the map and arrive as zeros (their scores are masked anyway).
// Waits are bounded: a wait that never completes traps instead of hanging the harness.
#pragma once
#include <cuda.h>  // CUtensorMap

#include "fa_wg_core.cuh"

// Dynamic shared memory: Q + NS stages + NS mbarriers (8 B each); fwd_tma_kv (D = 64): Q +
// NSLOT slots of 8 KiB + NSLOT mbarriers.
#define FA_WG_TMAKV_SMEM_BYTES(NSLOT) (8192 + 8200 * (NSLOT))
#define FA_WG_TMA_SMEM_BYTES(D, BN, NS) (FA_WG_SMEM_BYTES(D, BN, NS) + 8 * (NS))
// With EMPTY: NS more mbarriers.
#define FA_WG_TMA_SMEM_BYTES_E(D, BN, NS) (FA_WG_SMEM_BYTES(D, BN, NS) + 16 * (NS))

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

// PERSIST: a persistent grid (1-D, any size): CTA c computes work units c, c + gridDim.x, ...
// (unit u: row block u % m_blocks of head u / m_blocks, reversed per head when causal), the
// ring's stage and phase counting on across units; the next unit's first tiles are issued
// before this unit's O is stored, its Q after (Q's tile is where O is staged).
// EMPTY: no CTA barrier per tile; each warp arrives on its stage's "empty" mbarrier (count 4)
// once its wgmmas on the tile completed, and tid 0 waits for that before refilling the stage.
template <int D, int BN, int NS, bool POS, bool LAZY, bool PERSIST = false, bool EMPTY = false,
          bool EARLY = false>
__device__ __forceinline__ void fwd_tma(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                        const CUtensorMap* tmV, __half* __restrict__ O,
                                        int B, int H, int S, float softmax_scale, int causal,
                                        unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int m_blocks = (S + C::kBlockM - 1) / C::kBlockM;
    const int units = PERSIST ? m_blocks * H * B : 1;
    int u = PERSIST ? static_cast<int>(blockIdx.x) : 0;
    if (u >= units) return;  // uniform per CTA
    // Row block and head of unit u.
    auto unit_of = [&](int uu, int& mblk, int& bh) {
        if constexpr (PERSIST) {
            const int r = uu % m_blocks;
            mblk = causal ? m_blocks - 1 - r : r;
            bh = uu / m_blocks;
        } else {
            mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                          : static_cast<int>(blockIdx.x);
            bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
        }
    };
    auto tiles_of = [&](int mblk) {
        const int n_end = causal ? min(S, (mblk + 1) * C::kBlockM) : S;
        return (n_end + BN - 1) / BN;
    };
    int mblk, bh;
    unit_of(u, mblk, bh);
    if (mblk * C::kBlockM >= S) return;  // uniform per CTA (non-persistent grids only)

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + C::kQBytes;
    const u32 sBar = sStages + NS * C::kStageBytes;
    const u32 sEmpty = sBar + 8 * NS;  // EMPTY only

    // Key tile i of head bh_ into ring slot g (stage g % NS; tid 0 only): one bulk copy per
    // box (64 columns = one swizzle atom, 64 rows) of K and of V.
    static_assert(BN % 64 == 0, "tiles of whole 64-row boxes");
    auto issue = [&](int g, int i, int bh_) {
        if constexpr (EMPTY) {
            // Ring slot g - NS, the stage's previous tile, released by all 4 warps.
            if (g >= NS) mbar_wait_bounded(sEmpty + 8 * (g % NS), ((g / NS) - 1) & 1);
        }
        const u32 st = sStages + (g % NS) * C::kStageBytes;
        const u32 bar = sBar + 8 * (g % NS);
        mbar_expect_tx(bar, C::kStageBytes);
#pragma unroll
        for (int a = 0; a < C::kAtoms; ++a) {
#pragma unroll
            for (int r = 0; r < BN / 64; ++r) {
                const u32 off = a * (BN * 128) + r * (64 * 128);
                tma_load_3d(st + off, tmK, bar, 64 * a, i * BN + 64 * r, bh_);
                tma_load_3d(st + C::kKvBytes + off, tmV, bar, 64 * a, i * BN + 64 * r, bh_);
            }
        }
    };
    int g0 = 0;  // ring slot of the current unit's tile 0
    int n_tiles = tiles_of(mblk);
    // EARLY: tid 0 issues the first tiles right after initialising their barriers, before
    // anyone loads Q (the others wait on those barriers only after the CTA barrier below).
    if constexpr (!EARLY) {
        load_rows<64, D>(sQ, Q + static_cast<size_t>(bh) * S * D, mblk * C::kBlockM, S, tid);
        cp_async_commit();
    }
    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) mbar_init(sBar + 8 * st, 1);
        if constexpr (EMPTY) {
#pragma unroll
            for (int st = 0; st < NS; ++st) mbar_init(sEmpty + 8 * st, 4);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        if constexpr (EARLY) {
            for (int i = 0; i < L && i < n_tiles; ++i) issue(g0 + i, i, bh);
        } else {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
        }
    }
    if constexpr (EARLY) {
        load_rows<64, D>(sQ, Q + static_cast<size_t>(bh) * S * D, mblk * C::kBlockM, S, tid);
        cp_async_commit();
    }
    __syncthreads();  // the barriers are initialised before anyone waits on them
    if constexpr (!EARLY) {
        if (tid == 0) {
            for (int i = 0; i < L && i < n_tiles; ++i) issue(g0 + i, i, bh);
        }
    }
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);

    while (true) {
        const int m0 = mblk * C::kBlockM;
        const size_t head = static_cast<size_t>(bh) * S * D;
        const int w_row0 = m0 + warp * 16;
        const int q_row0 = w_row0 + gid;

        float o[C::kO];
        float s[C::kS];
#pragma unroll
        for (int i = 0; i < C::kO; ++i) o[i] = 0.f;
#pragma unroll
        for (int i = 0; i < C::kS; ++i) s[i] = 0.f;
        float row_max[2] = {-INFINITY, -INFINITY};
        float row_sum[2] = {0.f, 0.f};

        cp_async_wait<0>();  // Q (this thread's copies)
        fence_proxy_async();
        __syncthreads();

        for (int t = 0; t < n_tiles; ++t) {
            const int g = g0 + t;
            // The stage of tile t-1 is free: every warp passed the barrier that ended t-1.
            if (tid == 0 && t + L < n_tiles) issue(g + L, t + L, bh);
            mbar_wait_bounded(sBar + 8 * (g % NS), (g / NS) & 1);
            const u32 st = sStages + (g % NS) * C::kStageBytes;
            plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                         [st] { return st; }, t * BN, q_row0, w_row0, S,
                                         causal);
            if constexpr (EMPTY) {
                __syncwarp();
                if (lane == 0) mbar_arrive(sEmpty + 8 * (g % NS));  // this warp is done with it
            } else {
                __syncthreads();  // nobody reads stage t any more
            }
        }
        if constexpr (EMPTY) __syncthreads();  // (the ring's last tiles and Q: read by all)
        g0 += n_tiles;
        int next_mblk = 0, next_bh = 0, next_tiles = 0;
        const int next_u = u + (PERSIST ? static_cast<int>(gridDim.x) : units);
        if (next_u < units) {
            unit_of(next_u, next_mblk, next_bh);
            next_tiles = tiles_of(next_mblk);
            // The whole ring is free (the barrier above): the next unit's first tiles go out
            // under this unit's store.
            if (tid == 0) {
                for (int i = 0; i < L && i < next_tiles; ++i) issue(g0 + i, i, next_bh);
            }
        }
        store_o<D>(o, row_sum, smem_raw, warp, O + head, w_row0, S);
        if (next_u >= units) break;
        __syncthreads();  // every warp read its O rows back: Q's tile is free
        load_rows<64, D>(sQ, Q + static_cast<size_t>(next_bh) * S * D,
                         next_mblk * C::kBlockM, S, tid);
        cp_async_commit();
        u = next_u;
        mblk = next_mblk;
        bh = next_bh;
        n_tiles = next_tiles;
    }
}

// K and V in slots of their own (D = 64): a ring of NSLOT slots of one 64-key K or V tile
// each (8 KiB), item j = tile j / 2's K (j even) or V (j odd) in slot j % NSLOT, so that
// three slots give the lookahead two K + V stages gave in 8 KiB less shared memory; each
// tile's S and P V computed in 64 / SUB steps of SUB keys (SUB = 32: 16 S accumulators per
// thread instead of 32, fewer registers).  An item's slot is refilled (tid 0) right after
// the CTA barrier that follows its last reader: K(t) after the last S of tile t, V(t) after
// its last P V.  Q_BYTES: smem used by Q (the kernel's first 8 KiB).
template <int NSLOT, int SUB, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_tma_kv(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                           const CUtensorMap* tmV, __half* __restrict__ O,
                                           int H, int S, float softmax_scale, int causal,
                                           unsigned char* smem_raw) {
    constexpr int D = 64;
    constexpr int BN = 64;
    constexpr int kItemBytes = BN * D * 2;
    constexpr int kQBytes = 64 * D * 2;
    static_assert(NSLOT == 2 || NSLOT == 3, "2 or 3 slots");
    static_assert(SUB == 32 || SUB == 64, "steps of 32 or 64 keys");
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * 64;
    if (m0 >= S) return;  // uniform per CTA
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sSlots = sQ + kQBytes;
    const u32 sBar = sSlots + NSLOT * kItemBytes;

    const int n_end = causal ? min(S, m0 + 64) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int n_items = 2 * n_tiles;
    const int w_row0 = m0 + warp * 16;
    const int q_row0 = w_row0 + gid;

    load_rows<64, D>(sQ, Q + head, m0, S, tid);
    cp_async_commit();
    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NSLOT; ++st) mbar_init(sBar + 8 * st, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    __syncthreads();  // the barriers are initialised before anyone waits on them

    auto issue = [&](int j) {
        const u32 bar = sBar + 8 * (j % NSLOT);
        mbar_expect_tx(bar, kItemBytes);
        tma_load_3d(sSlots + (j % NSLOT) * kItemBytes, (j & 1) ? tmV : tmK, bar, 0,
                    (j >> 1) * BN, bh);
    };
    if (tid == 0) {
        for (int j = 0; j < NSLOT && j < n_items; ++j) issue(j);
    }
    auto wait_item = [&](int j) { mbar_wait_bounded(sBar + 8 * (j % NSLOT), (j / NSLOT) & 1); };
    // Every warp is done with item j: its slot takes item j + NSLOT.
    auto release = [&](int j) {
        __syncthreads();
        if (tid == 0 && j + NSLOT < n_items) issue(j + NSLOT);
    };

    float o[D / 2];
    float s[SUB / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
    for (int i = 0; i < SUB / 2; ++i) s[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);

    cp_async_wait<0>();  // Q (this thread's copies)
    fence_proxy_async();
    __syncthreads();

    for (int t = 0; t < n_tiles; ++t) {
        const int jk = 2 * t;
        const int jv = 2 * t + 1;
        const u32 k_slot = sSlots + (jk % NSLOT) * kItemBytes;
        const u32 v_slot = sSlots + (jv % NSLOT) * kItemBytes;
        wait_item(jk);
#pragma unroll
        for (int h = 0; h < BN / SUB; ++h) {
            wg_fence();
            // K rows h SUB.. of the tile: + SUB x 128 B in the SW128 K-major atom.
            gemm_qk<D, SUB>(s, desc_q, make_desc_sw128(k_slot + h * SUB * 128, 16, 1024));
            wg_commit();
            wg_wait<0>();
            fence_regs(s);
            if (h == BN / SUB - 1) release(jk);  // K(t) read by every warp
            u32 pf[SUB / 16][4];
            softmax_pack<D, SUB, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2,
                                            t * BN + h * SUB, q_row0, w_row0, S, causal);
            if (h == 0) wait_item(jv);
            wg_fence();
            // V rows (keys) h SUB.. of the tile: + SUB x 128 B.
            gemm_pv<D, SUB>(o, pf, make_desc_sw128(v_slot + h * SUB * 128, BN * 128, 1024));
            wg_commit();
            wg_wait<0>();
            fence_regs(o);
            fence_regs(pf);
        }
        release(jv);  // V(t) read by every warp
    }
    store_o<D>(o, row_sum, smem_raw, warp, O + head, w_row0, S);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_ENTRY(name, head dim, keys per tile, stages, lazy, min CTAs per SM):
//   (Q, tensor map of K, tensor map of V, O, B, H, S, D, softmax_scale, causal); 128 threads,
//   block_m 64, FA_WG_TMA_SMEM_BYTES(D, BN, NS) bytes; grid (ceil(S / 64), H, B).
//   FA_WG_TMA_ENTRY_P: the same with a persistent grid (1-D, any number of CTAs).
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_, PERSIST_, EMPTY_, EARLY_)                              \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma<D_, BN_, NS_, true, LAZY_, PERSIST_, EMPTY_, EARLY_>(Q, &tmK, &tmV, O, B, H, S,       \
                                                            softmax_scale, causal,           \
                                                            fa_wg_smem);                     \
    } else {                                                                                 \
        fa_wg::fwd_tma<D_, BN_, NS_, false, LAZY_, PERSIST_, EMPTY_, EARLY_>(Q, &tmK, &tmV, O, B, H, S,      \
                                                             softmax_scale, causal,          \
                                                             fa_wg_smem);                    \
    }
#else
#define FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_, PERSIST_, EMPTY_, EARLY_) \
    (void)Q; (void)O; (void)B; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, MINB_, PERSIST_, EMPTY_, EARLY_)               \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        if (D != (D_)) return;                                                               \
        FA_WG_TMA_BODY(D_, BN_, NS_, LAZY_, PERSIST_, EMPTY_, EARLY_)                            \
    }
#define FA_WG_TMA_ENTRY(NAME, D_, BN_, NS_, LAZY_, MINB_) \
    FA_WG_TMA_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, MINB_, false, false, false)
#define FA_WG_TMA_ENTRY_P(NAME, D_, BN_, NS_, LAZY_, MINB_) \
    FA_WG_TMA_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, MINB_, true, false, false)
#define FA_WG_TMA_ENTRY_R(NAME, D_, BN_, NS_, LAZY_, MINB_) \
    FA_WG_TMA_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, MINB_, false, false, true)
#define FA_WG_TMA_ENTRY_E(NAME, D_, BN_, NS_, LAZY_, MINB_) \
    FA_WG_TMA_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, MINB_, false, true, false)

//   FA_WG_TMAKV_ENTRY(name, slots, keys per step, lazy, min CTAs per SM): fwd_tma_kv at
//   D = 64, the parameters of FA_WG_TMA_ENTRY, FA_WG_TMAKV_SMEM_BYTES(slots) bytes.
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMAKV_BODY(NSLOT_, SUB_, LAZY_)                                                \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_kv<NSLOT_, SUB_, true, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,  \
                                                     causal, fa_wg_smem);                    \
    } else {                                                                                 \
        fa_wg::fwd_tma_kv<NSLOT_, SUB_, false, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale, \
                                                      causal, fa_wg_smem);                   \
    }
#else
#define FA_WG_TMAKV_BODY(NSLOT_, SUB_, LAZY_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMAKV_ENTRY(NAME, NSLOT_, SUB_, LAZY_, MINB_)                                  \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_TMAKV_BODY(NSLOT_, SUB_, LAZY_)                                                \
    }
