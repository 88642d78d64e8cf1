// fa_tc_core.cuh -- shared body of the fa_tc variants (v2, v3, v4) under this folder and of
// the shipped ../fa_tc.cu (v5).
//
// Same algorithm, fragments, swizzle and masking as fa_tc_v1.cu (read its header first);
// what changes is the schedule, selected by template parameters:
//
//   D      head dim (64 or 128); each variant .cu declares one extern "C" entry per D, so
//          ptxas sizes registers per head dim (the manifest's [entry_by_head_dim] picks it).
//   RW     row warps: block_m = 16 * RW query rows per CTA, warp wr owns rows [16wr, 16wr+16).
//   SPLIT  key groups (1 or 2).  Threads = 32 * RW * SPLIT.  With SPLIT = 2, warp
//          w = g * RW + wr (group g) processes the key tiles t with t % 2 == g of its rows;
//          at the end group 1 hands (row max, partial row sums, unnormalised O) to group 0
//          through shared memory, and group 0 merges them in one fixed order (no atomics:
//          deterministic).
//   NS     pipeline stages (2 or 3; FA_TCV_ENTRY = 3, FA_TCV_ENTRY_NS picks it).  v2/v3/v4
//          use 3; fa_tc (v5) uses 3 at D=64 and 2 at D=128 so that D=128 fits sm_89's
//          99 KiB per block.
//
// Pipeline: a ring of NS stages; a stage holds SPLIT (K, V) tile pairs of 64 keys
// ("step" p = tiles p*SPLIT .. p*SPLIT+SPLIT-1).  One cp.async commit group per step,
// committed even when empty so the wait count is a constant:
//   prologue: group {Q, step 0}, group {step 1}, ..., group {step NS-2}
//             wait_group NS-2 ; __syncthreads ; Q fragments -> registers
//   step p:   issue step p+NS-1 into stage (p+NS-1)%NS (it held step p-1, finished by
//             every warp before the last barrier), commit
//             S = Q K^T, mask, online softmax, O += P V   on stage p%NS (own group's tile)
//             wait_group NS-2 (step p+1 landed, this thread) ; __syncthreads (everyone's
//             copies visible; every warp is done with stage p%NS)
// i.e. one barrier per step (fa_tc v1: two per tile) and loads issued NS-1 steps ahead
// (NS = 3: two steps; NS = 2: one step, like v1, but still one barrier per step).
//
// Causal: CTAs take query blocks in reverse order (blockIdx.x = 0 -> last block), so the
// longest CTAs start first; a warp skips a tile whose first key lies beyond its last row.
//
// Shared memory: [ Q tile (block_m x D) | stage 0 | ... | stage NS-1 ],
// stage = SPLIT x (K tile + V tile), tile = 64 x D fp16.  At the end the stage region is
// reused for the SPLIT = 2 exchange (after a barrier) and each group-0 warp stages its own
// 16 rows of O in the Q region.

#include <cuda_fp16.h>

#include "fa_common.cuh"

namespace fa_tcv {

using fa_common::cp_async_16;
using fa_common::cp_async_commit;
using fa_common::cp_async_wait;
using fa_common::cta_first_row;
using fa_common::fast_exp2;
using fa_common::inv_row_sums;
using fa_common::pack_half2;
using fa_common::rescale;
using fa_common::shfl_xor;
using fa_common::smem_u32;
using fa_common::softmax_tile;
using fa_common::u32;

__device__ __forceinline__ void ldsm_x4(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}
__device__ __forceinline__ void ldsm_x4_trans(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}
__device__ __forceinline__ void mma_16816(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
constexpr int kBlockN = 64;  // keys per tile

template <int D>
__device__ __forceinline__ u32 swz(int r, int c) {
    return static_cast<u32>(r * (D * 2) + ((c ^ (r & 7)) << 4));
}

// cp.async rows [row0, row0 + ROWS) of an [S, D] head matrix into a swizzled tile; rows >= S
// are zero-filled from a clamped (valid) source address.  All T threads take part: thread
// tid copies chunk c = tid % C of rows tid / C + i * (T / C), so c and the swizzle term
// (r & 7) are the same for every i (T / C is a multiple of 8) and only the row moves.
// 32-bit element offsets from the tensor base g (hoff = the head's first element): the
// config rejects shapes whose B*H*S*D overflows 32-bit indexing.
template <int D, int ROWS, int T>
__device__ __forceinline__ void load_rows_async(u32 s_tile, const __half* g, int hoff, int row0,
                                                int S, int tid) {
    constexpr int C = D / 8;
    constexpr int kRowStep = T / C;
    static_assert((ROWS * C) % T == 0 && kRowStep % 8 == 0, "tile load must divide evenly");
    const int r0 = tid / C;
    const int c = tid % C;
    const u32 s0 = s_tile + swz<D>(r0, c);
#pragma unroll
    for (int i = 0; i < ROWS / kRowStep; ++i) {
        const int grow = row0 + r0 + i * kRowStep;
        const bool in_range = grow < S;
        const int off = hoff + (in_range ? grow * D + c * 8 : 0);
        cp_async_16(s0 + i * kRowStep * D * 2, g + off, in_range ? 16 : 0);
    }
}

template <int D, int RW, int SPLIT, int NS>
struct Cfg {
    static_assert(NS == 2 || NS == 3, "pipeline stages: 2 or 3");
    static constexpr int kStages = NS;
    static constexpr int kBlockM = 16 * RW;
    static constexpr int kThreads = 32 * RW * SPLIT;
    static constexpr int kTileBytes = kBlockN * D * 2;             // one 64 x D tile
    static constexpr int kQBytes = kBlockM * D * 2;
    static constexpr int kStageBytes = SPLIT * 2 * kTileBytes;     // SPLIT x (K, V)
    static constexpr int kSmemBytes = kQBytes + kStages * kStageBytes;
    static constexpr int kDTiles = D / 8;
    // SPLIT exchange: per group-1 warp, per element, 32 lanes of fp32.
    static constexpr int kXElems = kDTiles * 4 + 4;                 // acc_o, m[2], l[2]
    static_assert(SPLIT == 1 || RW * kXElems * 32 * 4 <= kStages * kStageBytes,
                  "exchange fits in the stage ring");
};

// Issue the loads of step p (tiles p*SPLIT + g) into the stage at shared address st;
// tiles >= n_tiles are skipped.
template <int D, int RW, int SPLIT, int NS>
__device__ __forceinline__ void load_step(u32 st, const __half* K, const __half* V, int hoff,
                                          int p, int n_tiles, int S, int tid) {
    using C = Cfg<D, RW, SPLIT, NS>;
#pragma unroll
    for (int g = 0; g < SPLIT; ++g) {
        const int t = p * SPLIT + g;
        if (t < n_tiles) {
            load_rows_async<D, kBlockN, C::kThreads>(st + (2 * g) * C::kTileBytes, K, hoff,
                                                     t * kBlockN, S, tid);
            load_rows_async<D, kBlockN, C::kThreads>(st + (2 * g + 1) * C::kTileBytes, V,
                                                     hoff, t * kBlockN, S, tid);
        }
    }
}

// The four floats of m16n8 fragment j of a flat accumulator array (s[4j + e], acc_o[4j + e]:
// the layout fa_common::softmax_tile works on).
__device__ __forceinline__ float (&frag(float* a, int j))[4] {
    return *reinterpret_cast<float(*)[4]>(a + 4 * j);
}

// POS (softmax_scale > 0 only) and LAZY: fa_common::softmax_tile's exponent-as-one-FFMA and
// conditional-rescale schedules; both false is the v5 softmax.  (Two m16 tiles per warp, a
// v11 try measured and not shipped, is at commit 3ec0e0c: NOTES.md, v11.)
template <int D, int RW, int SPLIT, int NS, bool POS = false, bool LAZY = false>
__device__ __forceinline__ void fwd(const __half* __restrict__ Q, const __half* __restrict__ K,
                                    const __half* __restrict__ V, __half* __restrict__ O,
                                    int H, int S, float softmax_scale, int causal,
                                    unsigned char* smem_raw) {
    using C = Cfg<D, RW, SPLIT, NS>;
    constexpr int kStages = C::kStages;
    constexpr int kBlockM = C::kBlockM;
    constexpr int kT = C::kThreads;
    constexpr int kKSteps = D / 16;
    constexpr int kDTiles = D / 8;
    constexpr int kNTiles = kBlockN / 8;
    constexpr int kPSteps = kBlockN / 16;
    constexpr int kChunks = D / 8;
    const float kNegInf = -INFINITY;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int wr = warp % RW;   // row warp: rows [16wr, 16wr+16) of the block
    const int grp = warp / RW;  // key group
    const int lane = tid & 31;
    const int gid = lane >> 2;
    const int tig = lane & 3;

    const int m0 = cta_first_row(causal, kBlockM);  // heaviest causal blocks first
    if (m0 >= S) return;  // uniform per CTA; the grid is exact
    // 32-bit: the config rejects shapes whose B*H*S*D overflows 32-bit indexing.
    const int hoff = (static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y)) * S * D;

    const u32 sQ = smem_u32(smem_raw);
    const u32 sStages = sQ + C::kQBytes;

    const int n_end = causal ? (S < m0 + kBlockM ? S : m0 + kBlockM) : S;
    const int n_tiles = (n_end + kBlockN - 1) / kBlockN;
    const int n_steps = (n_tiles + SPLIT - 1) / SPLIT;

    // ---- prologue: {Q, step 0}, {step 1}, ..., {step NS-2} ----
    load_rows_async<D, kBlockM, kT>(sQ, Q, hoff, m0, S, tid);
    load_step<D, RW, SPLIT, NS>(sStages, K, V, hoff, 0, n_tiles, S, tid);
    cp_async_commit();
#pragma unroll
    for (int ps = 1; ps < kStages - 1; ++ps) {
        load_step<D, RW, SPLIT, NS>(sStages + ps * C::kStageBytes, K, V, hoff, ps, n_tiles,
                                         S, tid);
        cp_async_commit();
    }
    const u32 sStagesEnd = sStages + kStages * C::kStageBytes;
    u32 st_cur = sStages;                                      // stage of step p
    u32 st_next = sStages + (kStages - 1) * C::kStageBytes;    // stage of step p + NS-1

    float acc_o[kDTiles * 4];
#pragma unroll
    for (int i = 0; i < kDTiles * 4; ++i) acc_o[i] = 0.f;
    float row_max[2] = {kNegInf, kNegInf};  // units of s (raw if POS, else log2-scaled)
    float row_sum[2] = {0.f, 0.f};          // this lane's columns only
    const float scale_log2 = softmax_scale * 1.4426950408889634f;

    const int k_row = (lane & 7) + ((lane >> 4) << 3);
    const int k_chunk = (lane >> 3) & 1;
    const int v_row = (lane & 7) + (((lane >> 3) & 1) << 3);
    const int v_chunk = lane >> 4;
    const int w_row0 = m0 + wr * 16;     // first query row of this warp
    const int q_row0 = w_row0 + gid;     // row of c0/c1 (c2/c3: +8)

    cp_async_wait<kStages - 2>();  // Q and step 0 landed (this thread's copies) ...
    __syncthreads();               // ... and everyone's.
    u32 qf[kKSteps][4];
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk)
        ldsm_x4(qf[kk], sQ + swz<D>(wr * 16 + (lane & 15), kk * 2 + (lane >> 4)));

    for (int p = 0; p < n_steps; ++p) {
        // Stage (p+NS-1)%NS held step p-1, which every warp finished before the barrier
        // that ended iteration p-1 (or was never used, p = 0).
        load_step<D, RW, SPLIT, NS>(st_next, K, V, hoff, p + kStages - 1, n_tiles, S, tid);
        cp_async_commit();  // possibly empty: keeps wait_group NS-2 exact

        const int t = p * SPLIT + grp;
        const int n0 = t * kBlockN;
        // Warp-uniform: this group's tile exists and is not fully masked for this warp.
        if (t < n_tiles && !(causal && n0 > w_row0 + 15)) {

        const u32 sKt = st_cur + (2 * grp) * C::kTileBytes;
        const u32 sVt = sKt + C::kTileBytes;

        // ---- S = Q K_t^T ----
        float s[kNTiles * 4];
#pragma unroll
        for (int i = 0; i < kNTiles * 4; ++i) s[i] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
            for (int np = 0; np < kNTiles / 2; ++np) {
                u32 kb[4];
                ldsm_x4(kb, sKt + swz<D>(np * 16 + k_row, kk * 2 + k_chunk));
                mma_16816(frag(s, 2 * np), qf[kk], kb[0], kb[1]);
                mma_16816(frag(s, 2 * np + 1), qf[kk], kb[2], kb[3]);
            }
        }

        // ---- mask, online softmax (fa_common.cuh), O rescale where the max moved ----
        float alpha[2];
        if (softmax_tile<kBlockN, POS, LAZY>(s, row_max, row_sum, alpha, scale_log2, n0,
                                             q_row0, w_row0, S, causal)) {
            rescale<D>(acc_o, alpha);
        }
        u32 pf[kPSteps][4];
#pragma unroll
        for (int kk = 0; kk < kPSteps; ++kk) {
            pf[kk][0] = pack_half2(s[8 * kk + 0], s[8 * kk + 1]);
            pf[kk][1] = pack_half2(s[8 * kk + 2], s[8 * kk + 3]);
            pf[kk][2] = pack_half2(s[8 * kk + 4], s[8 * kk + 5]);
            pf[kk][3] = pack_half2(s[8 * kk + 6], s[8 * kk + 7]);
        }
        // ---- O += P V_t ----
#pragma unroll
        for (int kk = 0; kk < kPSteps; ++kk) {
#pragma unroll
            for (int dp = 0; dp < kDTiles / 2; ++dp) {
                u32 vb[4];
                ldsm_x4_trans(vb, sVt + swz<D>(kk * 16 + v_row, dp * 2 + v_chunk));
                mma_16816(frag(acc_o, 2 * dp), pf[kk], vb[0], vb[1]);
                mma_16816(frag(acc_o, 2 * dp + 1), pf[kk], vb[2], vb[3]);
            }
        }
        }  // active tile
        cp_async_wait<kStages - 2>();  // step p+1 landed (this thread's copies) ...
        __syncthreads();  // ... and everyone's; every warp is done with stage p%NS
        st_next = st_cur;  // step p+NS reuses the stage of step p
        st_cur += C::kStageBytes;
        if (st_cur == sStagesEnd) st_cur = sStages;
    }
    // The groups still pending are empty (steps >= n_steps load nothing).
    cp_async_wait<0>();

    if constexpr (SPLIT == 2) {
        // The loop's last barrier: no warp reads the ring any more; reuse it.
        float* xb = reinterpret_cast<float*>(smem_raw + C::kQBytes);
        // Layout [row warp][element][lane]: lane-contiguous, conflict-free.
        float* mine = xb + static_cast<size_t>(wr) * C::kXElems * 32 + lane;
        if (grp == 1) {
#pragma unroll
            for (int dt = 0; dt < kDTiles; ++dt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) mine[(dt * 4 + e) * 32] = acc_o[dt * 4 + e];
            }
            mine[(kDTiles * 4 + 0) * 32] = row_max[0];
            mine[(kDTiles * 4 + 1) * 32] = row_max[1];
            mine[(kDTiles * 4 + 2) * 32] = row_sum[0];
            mine[(kDTiles * 4 + 3) * 32] = row_sum[1];
        }
        __syncthreads();
        if (grp == 1) return;
        // Merge (group 0 side): m = max(m0, m1); O = 2^(m0-m) O0 + 2^(m1-m) O1, same for l
        // (maxes in the units of s: times c = scale * log2(e) if POS).
        const float c = POS ? scale_log2 : 1.f;
        float a0[2], a1[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const float m1 = mine[(kDTiles * 4 + r) * 32];
            const float l1 = mine[(kDTiles * 4 + 2 + r) * 32];
            const float m = fmaxf(row_max[r], m1);
            const float msub = (m == kNegInf) ? 0.f : m;
            a0[r] = fast_exp2((row_max[r] - msub) * c);
            a1[r] = fast_exp2((m1 - msub) * c);
            row_sum[r] = row_sum[r] * a0[r] + l1 * a1[r];
        }
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
#pragma unroll
            for (int e = 0; e < 4; ++e)
                acc_o[dt * 4 + e] =
                    acc_o[dt * 4 + e] * a0[e >> 1] + mine[(dt * 4 + e) * 32] * a1[e >> 1];
        }
    }

    // ---- epilogue (group 0 warps): O = acc / l, staged in this warp's rows of the Q tile ----
    float inv_l[2];
    inv_row_sums(row_sum, inv_l);
    // Rows [16wr, 16wr+16) of the Q tile were read only by this warp and (SPLIT = 2) its
    // group-1 partner, both before the first ring barrier; no cp.async targets Q after the
    // prologue.  So this warp may overwrite them without a CTA barrier.
    unsigned char* sO = smem_raw;
    const int srow = wr * 16 + gid;
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt) {
        *reinterpret_cast<u32*>(sO + swz<D>(srow, dt) + tig * 4) =
            pack_half2(acc_o[dt * 4 + 0] * inv_l[0], acc_o[dt * 4 + 1] * inv_l[0]);
        *reinterpret_cast<u32*>(sO + swz<D>(srow + 8, dt) + tig * 4) =
            pack_half2(acc_o[dt * 4 + 2] * inv_l[1], acc_o[dt * 4 + 3] * inv_l[1]);
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < 16 * kChunks / 32; ++i) {
        const int idx = lane + i * 32;
        const int r = idx / kChunks;
        const int c = idx % kChunks;
        const int grow = w_row0 + r;
        if (grow < S) {
            *reinterpret_cast<uint4*>(O + (hoff + grow * D + c * 8)) =
                *reinterpret_cast<const uint4*>(sO + swz<D>(wr * 16 + r, c));
        }
    }
}

// What an entry runs: fwd with the v5 softmax, or (FAST) with the POS schedule where
// softmax_scale > 0 and the v5 softmax for other scales, lazy rescaling as LAZY says.
template <int D, int RW, int SPLIT, int NS, bool FAST, bool LAZY>
__device__ __forceinline__ void entry_body(const __half* Q, const __half* K, const __half* V,
                                           __half* O, int H, int S, float softmax_scale,
                                           int causal, unsigned char* smem) {
    if constexpr (FAST) {
        if (softmax_scale > 0.f) {
            fwd<D, RW, SPLIT, NS, true, LAZY>(Q, K, V, O, H, S, softmax_scale, causal, smem);
        } else {
            fwd<D, RW, SPLIT, NS, false, LAZY>(Q, K, V, O, H, S, softmax_scale, causal, smem);
        }
    } else {
        fwd<D, RW, SPLIT, NS>(Q, K, V, O, H, S, softmax_scale, causal, smem);
    }
}

}  // namespace fa_tcv

// One entry per head dim:
//   FA_TCV_ENTRY_NS(name, D, RW, SPLIT, NS stages, min CTAs per SM for __launch_bounds__)
//   FA_TCV_ENTRY(name, D, RW, SPLIT, min CTAs per SM) = FA_TCV_ENTRY_NS(..., 3, ...)
// Dynamic shared memory to pass (manifest [dynamic_shared_bytes]):
//   fa_tcv::Cfg<D, RW, SPLIT, NS>::kSmemBytes = 32*RW*D + NS * SPLIT * 256*D bytes.
#define FA_TCV_ENTRY_ANY(NAME, D_, RW_, SPLIT_, NS_, MINB_, FAST_, LAZY_)                    \
    extern "C" __global__ void __launch_bounds__(32 * (RW_) * (SPLIT_), MINB_)               \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(128) unsigned char fa_tcv_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return; /* launched only at its head dim (manifest) */                \
        fa_tcv::entry_body<D_, RW_, SPLIT_, NS_, FAST_, LAZY_>(Q, K, V, O, H, S,             \
                                                               softmax_scale, causal,        \
                                                               fa_tcv_smem);                 \
    }
#define FA_TCV_ENTRY_NS(NAME, D_, RW_, SPLIT_, NS_, MINB_) \
    FA_TCV_ENTRY_ANY(NAME, D_, RW_, SPLIT_, NS_, MINB_, false, false)
#define FA_TCV_ENTRY(NAME, D_, RW_, SPLIT_, MINB_) FA_TCV_ENTRY_NS(NAME, D_, RW_, SPLIT_, 3, MINB_)
// The same with fa_common::softmax_tile's POS schedule (for softmax_scale > 0; other scales
// run the v5 softmax) and LAZY (conditional O rescale) as chosen:
//   FA_TCV_ENTRY_FAST(name, D, RW, SPLIT, NS stages, min CTAs per SM, lazy)
#define FA_TCV_ENTRY_FAST(NAME, D_, RW_, SPLIT_, NS_, MINB_, LAZY_) \
    FA_TCV_ENTRY_ANY(NAME, D_, RW_, SPLIT_, NS_, MINB_, true, LAZY_)
