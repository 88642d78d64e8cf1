// fa_wg_parts.cuh -- PROTOTYPE (v19, NOTES.md): two key parts per CTA with the loads issued
// under the first wgmma, a shared epilogue and, optionally, turns at the tensor cores; the
// candidate successor of fa_tc's wgmma_ks2 body (fa_wg_core.cuh's fwd with KS = 2, OWN) for
// grids of about one CTA per SM.  ABI attention_fwd_v1.  fa_tc does not ship it yet: the
// entry that would (FA_WG_PARTS_ENTRY(fa_tc_fwd_d64_wgmma_ks2, false, true, false, 0,
// false), commit e16e96a) needs a full evidence run.  The harness entries are fa_ks2x*.
//
// Per CTA: 64 query rows of one head, two warpgroups (256 threads); part p computes key tiles
// p, p + 2, ... of BN = 128 keys from its own cp.async loads (2 stages of its K and V tile;
// Q shared).  What the phase marks of the wgmma_ks2 body showed at canon_3 (fa_wg_trace.cu),
// and what this body changes:
//   * the loads of step 1 (16 cp.async per thread) were issued before S(0) = Q K^T(0) and
//     held the first wgmma back by ~600 clocks: here S(0) is issued first, the loads go out
//     while it runs;
//   * the merge of the two parts and the store of O took ~1500 clocks in part 0 alone while
//     part 1 idled: here each part gives the other half of its O (and its row max and sum),
//     merges the half it keeps (part 0 columns 0..D/2-1, part 1 the rest) and stores it; the
//     row sums are summed over their quads before the last turn and 1 / l is MUFU.RCP (IEEE
//     division's slow path was ~300 clocks of the epilogue);
//   * a tile's P V is issued with the next tile's S (one wait for both, as the PIPE schedule),
//     not as a round trip of its own; the first tile's softmax skips the rescale (FIRST).
// PP (FlashAttention-3's ping-pong): a part issues the wgmmas of a turn -- P V(t-1) and S(t)
// -- only in its turn, then hands the turn over and runs its softmax of tile t under the
// other part's wgmmas.  Turns are named barriers 3 (part 0's) and 4 (part 1's), 256
// arrivals each: a part syncs on its own and arrives on the other's; part 1 arrives once on
// barrier 3 first, so part 0 has the first turn.  Both parts take n_steps + 1 turns (the last
// issues the last P V only) and compute every step (a tile past the end is zero-filled and
// fully masked: P = 0), so the arrivals balance: part 0 arrives on barrier 4 n_steps + 1
// times, part 1 on barrier 3 once plus n_steps times (not after its last turn).
// Measured and kept as options, not faster at canon_3 (NOTES.md v19): SPLIT (K and V of a
// step in separate cp.async groups, S waiting for K only), POLY (a share of the exponentials
// on the FMA pipe, fa_common::poly_exp2), TSUM (row sums on the tensor cores).
// Ring (per part, 2 stages): step 0 with Q in the prologue; step 1 under S(0) (its stage was
// never used); step t + 1 (t >= 1) once P V(t - 1), the last reader of its stage, is complete
// in every warp of the part (named barrier 1 + p).  Every wait is cp.async.wait_group 0 (1
// with SPLIT: V(t) may stay in flight): the group in flight at the top of step t is step t's.
// No wgmma is issued under a condition (ptxas would serialise every wgmma of the loop,
// C7519): the turns are peeled.  Every __syncthreads is one instruction both parts reach
// (bar.sync is .aligned; synccheck flagged v19's first epilogue, which had one per part).
#pragma once
#include "fa_wg_tma_n128.cuh"  // gemm_qk_first

// Dynamic shared memory of an FA_WG_PARTS_ENTRY: Q, 2 stages x 2 parts x (K + V) of 128 keys
// (the wgmma_ks2 launch's 139264 B), and with TSUM 1 KiB of fp16 ones.
#define FA_WG_PARTS_SMEM_BYTES(TSUM) (FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2) + ((TSUM) ? 1024 : 0))

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

// TSUM: the row sums of P on the tensor cores instead of 64 FADDs a thread and tile: O_l +=
// P x ones (m64n8k16, A = the P fragments of P V, B = a 16 x 8 tile of fp16 ones read through
// a no-swizzle K-major descriptor from a 1 KiB region of ones behind the ring), so every one
// of the accumulator's 4 values per thread is its row's sum of the fp16 P that P V uses
// (lsum[0] = lsum[1]: row gid, lsum[2] = lsum[3]: row gid + 8), accumulated in fp32.
__device__ __forceinline__ u64 make_desc_plain(u32 saddr, u32 lbo_bytes, u32 sbo_bytes) {
    return static_cast<u64>((saddr & 0x3FFFF) >> 4) |
           (static_cast<u64>((lbo_bytes >> 4) & 0x3FFF) << 16) |
           (static_cast<u64>((sbo_bytes >> 4) & 0x3FFF) << 32);  // layout_type 0: none
}
__device__ __forceinline__ void wgmma_rs_n8(float (&d)[4], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
}
template <int BN>
__device__ __forceinline__ void gemm_rowsum(float (&lsum)[4], const u32 (&pf)[BN / 16][4],
                                            u64 desc_ones) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) wgmma_rs_n8(lsum, pf[kk], desc_ones);
}
// The softmax of one tile for fwd_parts: FIRST (the part's first tile: nothing to rescale),
// TSUM (row sums on the tensor cores: lsum rescaled with O, row_sum untouched).
template <int D, int BN, bool POS, bool LAZY, int POLY, bool FIRST, bool TSUM>
__device__ __forceinline__ void softmax_part(float (&s)[BN / 2], float (&o)[D / 2],
                                             float (&row_max)[2], float (&row_sum)[2],
                                             float (&lsum)[4], u32 (&pf)[BN / 16][4],
                                             float scale_log2, int n0, int q_row0,
                                             int w_row0, int S, int causal) {
    float alpha[2];
    if (softmax_tile<BN, POS, LAZY, POLY, FIRST, !TSUM>(s, row_max, row_sum, alpha, scale_log2,
                                                          n0, q_row0, w_row0, S, causal)) {
        rescale<D>(o, alpha);
        if constexpr (TSUM) {
            lsum[0] *= alpha[0];
            lsum[1] *= alpha[0];
            lsum[2] *= alpha[1];
            lsum[3] *= alpha[1];
        }
    }
    pack_p<BN>(s, pf);
}

// The end of part kp: trade halves of O with the other part through the dead ring, merge
// the half it keeps (part 0 columns 0..D/2-1, part 1 the rest) and store those columns.
// Every wgmma of the CTA must be complete in the calling warp's part (each part waited for
// its own); the first barrier covers the other part's.  Both parts run the same code (the
// halves picked with selects, never a register index that depends on kp): bar.sync is
// .aligned, every thread of the CTA must reach the same barrier instruction (compute-
// sanitizer's synccheck flags two instantiations each with its own __syncthreads).
template <int D, int BN, bool POS>
__device__ __forceinline__ void finish_half(float (&o)[D / 2], float (&row_max)[2],
                                            float (&row_sum)[2], float scale_log2,
                                            unsigned char* smem_raw, int kp, int wq,
                                            __half* Oh, int w_row0, int S) {
    using C = Cfg<D, BN, 2>;
    constexpr int kH = C::kO / 2;          // floats of half an O per thread
    constexpr int kSlot = (kH + 4) * 128;  // one part's record: half O, max, sum
    static_assert(2 * kSlot * 4 <= 2 * 2 * C::kStageBytes, "records fit the ring");
    float* red = reinterpret_cast<float*>(smem_raw + C::kQBytes);
    const int lt = threadIdx.x & 127;
    const bool first = kp == 0;  // keeps o[0..kH), gives o[kH..)
    __syncthreads();  // both parts' wgmmas complete: the ring is dead
    trace_mark(9);
    float* give = red + kp * kSlot;
#pragma unroll
    for (int i = 0; i < kH; ++i) give[i * 128 + lt] = first ? o[kH + i] : o[i];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        give[(kH + r) * 128 + lt] = row_max[r];
        give[(kH + 2 + r) * 128 + lt] = row_sum[r];
    }
    __syncthreads();
    trace_mark(13);
    const float* rec = red + (1 - kp) * kSlot;
    const float c = POS ? scale_log2 : 1.f;  // row_max in the units of s
    float a_own[2], a_other[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const float m1 = rec[(kH + r) * 128 + lt];
        const float l1 = rec[(kH + 2 + r) * 128 + lt];
        const float m = fmaxf(row_max[r], m1);
        a_own[r] = row_max[r] == -INFINITY ? 0.f : fast_exp2((row_max[r] - m) * c);
        a_other[r] = m1 == -INFINITY ? 0.f : fast_exp2((m1 - m) * c);
        row_sum[r] = row_sum[r] * a_own[r] + l1 * a_other[r];
        row_max[r] = m;
    }
    float h[kH];  // the kept half, merged
#pragma unroll
    for (int i = 0; i < kH; ++i) {
        const int r = (i >> 1) & 1;
        h[i] = (first ? o[i] : o[kH + i]) * a_own[r] + rec[i * 128 + lt] * a_other[r];
    }
    trace_mark(11);
    // O = acc / l of the kept columns, staged in the (dead) Q tile: every S wgmma (its only
    // reader) was waited for before the first barrier; the parts stage disjoint chunks.
    store_o<D, D / 16, false>(h, row_sum, smem_raw, wq, Oh, w_row0, S, kp * (D / 16));
}

template <int D, int BN, bool POS, bool LAZY, bool PP, bool SPLIT, int POLY, bool TSUM>
__device__ __forceinline__ void fwd_parts(const __half* __restrict__ Q,
                                          const __half* __restrict__ K,
                                          const __half* __restrict__ V,
                                          __half* __restrict__ O, int H, int S,
                                          float softmax_scale, int causal,
                                          unsigned char* smem_raw) {
    constexpr int NS = 2;
    constexpr int KS = 2;
    using C = Cfg<D, BN, NS>;
    constexpr int kStepBytes = KS * C::kStageBytes;
    constexpr int kTurn0 = 3;  // PP's named barriers: part p's turn is kTurn0 + p
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int kp = warp >> 2;  // key part (warpgroup)
    const int wq = warp & 3;   // rows 16 wq.. of the 64
    const int gid = (tid & 31) >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * 64;
    if (m0 >= S) return;  // uniform per CTA
    const size_t head = (static_cast<size_t>(blockIdx.z) * H + blockIdx.y) * S * D;
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();  // SW128 atoms need 1024-B aligned tiles
    const u32 sStages = sQ + C::kQBytes;
    const int n_end = causal ? min(S, m0 + 64) : S;
    const int n_steps = ((n_end + BN - 1) / BN + KS - 1) / KS;
    const int w_row0 = m0 + wq * 16;  // first row of this warp
    const int q_row0 = w_row0 + gid;  // row of s[4j+0..1]; s[4j+2..3]: +8

    // This part's K tile of step t (its V tile right behind it).
    auto tile_of = [&](int t) -> u32 {
        return sStages + (t & 1) * kStepBytes + kp * C::kStageBytes;
    };
    // A step's loads: K then V, as one cp.async group, or (SPLIT) as two, K's first.
    auto load_k = [&](int t) { load_rows<BN, D>(tile_of(t), Kh, (KS * t + kp) * BN, S, tid & 127); };
    auto load_v = [&](int t) {
        load_rows<BN, D>(tile_of(t) + C::kKvBytes, Vh, (KS * t + kp) * BN, S, tid & 127);
    };
    auto load_step = [&](int t, bool any) {  // commits 1 group (SPLIT: 2), possibly empty
        if (any) load_k(t);
        if constexpr (SPLIT) cp_async_commit();
        if (any) load_v(t);
        cp_async_commit();
    };
    auto k_desc = [&](int t) -> u64 { return make_desc_sw128(tile_of(t), 16, 1024); };
    auto v_desc = [&](int t) -> u64 {
        // V: MN-major SW128: SBO 1024 B (next 8 keys), LBO BN x 128 B (next atom of d).
        return make_desc_sw128(tile_of(t) + C::kKvBytes, BN * 128, 1024);
    };
    auto turn_begin = [&] {
        if constexpr (PP) named_bar_sync(kTurn0 + kp, 256);
    };
    auto turn_end = [&](bool last) {
        if constexpr (PP) {
            if (kp == 0 || !last) named_bar_arrive(kTurn0 + 1 - kp, 256);
        }
    };

    trace_mark(0);
    load_rows<64, D, 128 * KS>(sQ, Qh, m0, S, tid);
    load_step(0, true);  // groups {Q, K(0), V(0)} or {Q, K(0)}, {V(0)}

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    u32 pf[BN / 16][4];  // P of the tile before the turn's S
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    // A = Q (K-major SW128): LBO 16 B ("1", unused), SBO 1024 B (next 8 rows).
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);
    float lsum[4] = {0.f, 0.f, 0.f, 0.f};  // TSUM's row sums
    const u32 sOnes = sStages + 2 * kStepBytes;
    const u64 desc_ones = make_desc_plain(sOnes, 128, 256);
    if constexpr (TSUM) {  // 1 KiB of fp16 ones (fenced into the async proxy below)
        for (int i = tid; i < 256; i += 128 * KS) {
            asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(sOnes + 4 * i), "r"(0x3C003C00u));
        }
    }
    auto softmax_first = [&] {
        softmax_part<D, BN, POS, LAZY, POLY, true, TSUM>(s, o, row_max, row_sum, lsum, pf,
                                                         scale_log2, kp * BN, q_row0, w_row0,
                                                         S, causal);
    };
    auto softmax = [&](int t) {
        softmax_part<D, BN, POS, LAZY, POLY, false, TSUM>(s, o, row_max, row_sum, lsum, pf,
                                                          scale_log2, (KS * t + kp) * BN, q_row0,
                                                          w_row0, S, causal);
    };
    auto gemm_pv_sum = [&](int t) {
        gemm_pv<D, BN>(o, pf, v_desc(t));
        if constexpr (TSUM) gemm_rowsum<BN>(lsum, pf, desc_ones);
    };

    if constexpr (PP) {
        if (kp == 1) named_bar_arrive(kTurn0, 256);  // part 0 takes the first turn
    }
    // Waits: at turn t (S(t) and P V(t-1)) everything up to K(t) must have landed; with SPLIT
    // V(t) may still be in flight (the one group after K(t)); the last turn needs all.
    constexpr int kPending = SPLIT ? 1 : 0;
    cp_async_wait<kPending>();  // Q and K(0) (and V(0)): this thread's copies
    fence_proxy_async();
    __syncthreads();  // everyone's (Q is shared by both parts)
    trace_mark(1);
    // Turn 0: S(0), and the loads of step 1 (into stage 1, never used yet) under it.
    turn_begin();
    trace_mark(2);
    wg_fence();
    gemm_qk_first<D, BN>(s, desc_q, k_desc(0));
    wg_commit();
    turn_end(false);
    load_step(1, n_steps > 1);
    wg_wait<0>();
    fence_regs(s);
    trace_mark(3);
    softmax_first();
    trace_mark(4);
    // Turn t: P V(t-1) and S(t).
    for (int t = 1; t < n_steps; ++t) {
        cp_async_wait<kPending>();  // V(t-1) and K(t): this thread's copies
        fence_proxy_async();
        named_bar_sync(1 + kp, 128);  // the part's
        if (t < 2) trace_mark(5);
        turn_begin();
        if (t < 2) trace_mark(6);
        wg_fence();
        gemm_pv_sum(t - 1);
        gemm_qk_first<D, BN>(s, desc_q, k_desc(t));
        wg_commit();
        turn_end(false);
        wg_wait<0>();
        fence_regs(o);
        fence_regs(s);
        fence_regs(pf);
        fence_regs(lsum);
        if (t + 1 < n_steps) {  // (part-uniform)
            named_bar_sync(1 + kp, 128);  // the part's P V(t-1) done: its stage is free
        }
        load_step(t + 1, t + 1 < n_steps);  // possibly empty: keeps the wait counts exact
        if (t < 2) trace_mark(7);
        softmax(t);
        if (t < 2) trace_mark(8);
    }
    // row_sum is final after the last softmax: sum it over the row's quad now, under the
    // last turn's wait (the merge and the store then take full row sums).
    if constexpr (!TSUM) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            row_sum[r] += shfl_xor(row_sum[r], 1);
            row_sum[r] += shfl_xor(row_sum[r], 2);
        }
    }
    // The last turn: P V(n_steps - 1).
    if constexpr (SPLIT) {
        cp_async_wait<0>();  // V(n_steps - 1): this thread's copies
        fence_proxy_async();
        named_bar_sync(1 + kp, 128);  // the part's
    }
    turn_begin();
    wg_fence();
    gemm_pv_sum(n_steps - 1);
    wg_commit();
    turn_end(true);
    wg_wait<0>();
    fence_regs(o);
    fence_regs(pf);
    fence_regs(lsum);
    if constexpr (TSUM) {
        row_sum[0] = lsum[0];  // full row sums
        row_sum[1] = lsum[2];
    }
    trace_mark(10);
    cp_async_wait<0>();  // remaining groups are empty

    finish_half<D, BN, POS>(o, row_max, row_sum, scale_log2, smem_raw, kp, wq, Oh, w_row0, S);
    trace_mark(12);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_PARTS_BODY(LAZY_, PP_, SPLIT_, POLY_, TSUM_)                                   \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_parts<64, 128, true, LAZY_, PP_, SPLIT_, POLY_, TSUM_>(                   \
            Q, K, V, O, H, S, softmax_scale, causal, fa_wg_smem);                            \
    } else {                                                                                 \
        fa_wg::fwd_parts<64, 128, false, false, PP_, SPLIT_, POLY_, TSUM_>(                  \
            Q, K, V, O, H, S, softmax_scale, causal, fa_wg_smem);                            \
    }
#else
#define FA_WG_PARTS_BODY(LAZY_, PP_, SPLIT_, POLY_, TSUM_) \
    (void)Q; (void)K; (void)V; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; \
    (void)fa_wg_smem; __trap();
#endif
//   FA_WG_PARTS_ENTRY(name, lazy, ping-pong, K and V in separate groups, exponentials off
//   MUFU (blocks of every 4), row sums on the tensor cores): D = 64, ABI attention_fwd_v1,
//   256 threads, block_m 64, FA_WG_PARTS_SMEM_BYTES(tsum) bytes, one CTA per SM.
#define FA_WG_PARTS_ENTRY(NAME, LAZY_, PP_, SPLIT_, POLY_, TSUM_)                            \
    extern "C" __global__ void __launch_bounds__(256, 1)                                     \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_PARTS_BODY(LAZY_, PP_, SPLIT_, POLY_, TSUM_)                                   \
    }

// ---- four key parts (fwd_parts4): one 128-key tile per part at S = 512 ----
//
// CTA: 64 query rows, four warpgroups (512 threads, so at most 128 registers a thread); part
// p computes tiles p, p + 4, ... from one K slot and one V slot of its own (Q shared; 8 KiB +
// 4 x 32 KiB, the wgmma_ks2 launch's 139264 B), cp.async groups {K(i)}, {V(i)} in that order:
//   S(i) waits for K(i) only; once every warp of the part has S(i), K(i+1) goes into the K
//   slot (under the softmax); P V(i) waits for V(i); once every warp has it, V(i+1) goes into
//   the V slot.  Every wait is cp.async.wait_group 1 (the one group behind the awaited one
//   may stay in flight).  A part with no tile (S <= 384, causal row blocks) only merges.
// Epilogue: every part leaves its O and row max / sum (quad partials) in the dead slots, then
// merges the columns 16 p .. 16 p + 15 from all four records and stores them.
#if FA_WG_HAVE_WGMMA
namespace fa_wg {

template <int D, int BN, bool POS>
__device__ __forceinline__ void finish_quarter(const float (&o)[D / 2], const float (&row_max)[2],
                                               const float (&row_sum)[2], float scale_log2,
                                               unsigned char* smem_raw, int kp, int wq,
                                               __half* Oh, int w_row0, int S) {
    constexpr int kO = D / 2;
    constexpr int kQ = kO / 4;             // floats of a quarter of O per thread
    constexpr int kSlot = (kO + 4) * 128;  // one part's record: O, max, sum
    static_assert(4 * kSlot * 4 <= 4 * 2 * BN * D * 2, "records fit the slots");
    float* red = reinterpret_cast<float*>(smem_raw + 64 * D * 2);
    const int lt = threadIdx.x & 127;
    __syncthreads();  // every part's wgmmas complete: the slots are dead
    float* mine = red + kp * kSlot;
#pragma unroll
    for (int i = 0; i < kO; ++i) mine[i * 128 + lt] = o[i];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        mine[(kO + r) * 128 + lt] = row_max[r];
        mine[(kO + 2 + r) * 128 + lt] = row_sum[r];
    }
    __syncthreads();
    const float c = POS ? scale_log2 : 1.f;  // row_max in the units of s
    float m[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int q = 0; q < 4; ++q) {
#pragma unroll
        for (int r = 0; r < 2; ++r) m[r] = fmaxf(m[r], red[q * kSlot + (kO + r) * 128 + lt]);
    }
    float h[kQ] = {}, l[2] = {0.f, 0.f};  // this part's quarter of the columns, merged
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const float* rec = red + q * kSlot;
        float a[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const float mq = rec[(kO + r) * 128 + lt];
            a[r] = mq == -INFINITY ? 0.f : fast_exp2((mq - m[r]) * c);
            l[r] += rec[(kO + 2 + r) * 128 + lt] * a[r];
        }
#pragma unroll
        for (int i = 0; i < kQ; ++i) h[i] += rec[(kp * kQ + i) * 128 + lt] * a[(i >> 1) & 1];
    }
    trace_mark(11);
    store_o<D, D / 32>(h, l, smem_raw, wq, Oh, w_row0, S, kp * (D / 32));
}

template <int D, int BN, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_parts4(const __half* __restrict__ Q,
                                           const __half* __restrict__ K,
                                           const __half* __restrict__ V,
                                           __half* __restrict__ O, int H, int S,
                                           float softmax_scale, int causal,
                                           unsigned char* smem_raw) {
    constexpr int KS = 4;
    using C = Cfg<D, BN, 2>;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int kp = warp >> 2;  // key part (warpgroup)
    const int wq = warp & 3;   // rows 16 wq.. of the 64
    const int gid = (tid & 31) >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * 64;
    if (m0 >= S) return;  // uniform per CTA
    const size_t head = (static_cast<size_t>(blockIdx.z) * H + blockIdx.y) * S * D;
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();  // SW128 atoms need 1024-B aligned tiles
    const u32 sK = sQ + C::kQBytes + kp * C::kStageBytes;  // this part's K slot
    const u32 sV = sK + C::kKvBytes;                       // and V slot
    const int n_end = causal ? min(S, m0 + 64) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int n_own = n_tiles > kp ? (n_tiles - kp + KS - 1) / KS : 0;  // part-uniform
    const int w_row0 = m0 + wq * 16;
    const int q_row0 = w_row0 + gid;
    auto row0_of = [&](int i) { return (KS * i + kp) * BN; };

    trace_mark(0);
    load_rows<64, D, 128 * KS>(sQ, Qh, m0, S, tid);
    if (n_own > 0) load_rows<BN, D>(sK, Kh, row0_of(0), S, tid & 127);
    cp_async_commit();  // {Q, K(0)}
    if (n_own > 0) load_rows<BN, D>(sV, Vh, row0_of(0), S, tid & 127);
    cp_async_commit();  // {V(0)}

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);

    cp_async_wait<1>();  // Q and K(0): this thread's copies
    fence_proxy_async();
    __syncthreads();  // everyone's (Q is shared by all parts)
    trace_mark(1);
    for (int i = 0; i < n_own; ++i) {
        if (i > 0) {
            cp_async_wait<1>();  // K(i)
            fence_proxy_async();
            named_bar_sync(1 + kp, 128);
        }
        wg_fence();
        gemm_qk_first<D, BN>(s, desc_q, make_desc_sw128(sK, 16, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        if (i < 2) trace_mark(2 + 3 * i);
        named_bar_sync(1 + kp, 128);  // every warp's S(i): the K slot is free
        if (i + 1 < n_own) load_rows<BN, D>(sK, Kh, row0_of(i + 1), S, tid & 127);
        cp_async_commit();  // {K(i+1)}, possibly empty
        u32 pf[BN / 16][4];
        softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, row0_of(i),
                                       q_row0, w_row0, S, causal);
        if (i < 2) trace_mark(3 + 3 * i);
        cp_async_wait<1>();  // V(i)
        fence_proxy_async();
        named_bar_sync(1 + kp, 128);
        wg_fence();
        gemm_pv<D, BN>(o, pf, make_desc_sw128(sV, BN * 128, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        fence_regs(pf);
        if (i < 2) trace_mark(4 + 3 * i);
        named_bar_sync(1 + kp, 128);  // every warp's P V(i): the V slot is free
        if (i + 1 < n_own) load_rows<BN, D>(sV, Vh, row0_of(i + 1), S, tid & 127);
        cp_async_commit();  // {V(i+1)}, possibly empty
    }
    cp_async_wait<0>();  // remaining groups are empty
    trace_mark(10);
    finish_quarter<D, BN, POS>(o, row_max, row_sum, scale_log2, smem_raw, kp, wq, Oh, w_row0,
                               S);
    trace_mark(12);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_PARTS4_BODY(LAZY_)                                                             \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_parts4<64, 128, true, LAZY_>(Q, K, V, O, H, S, softmax_scale, causal,     \
                                                fa_wg_smem);                                 \
    } else {                                                                                 \
        fa_wg::fwd_parts4<64, 128, false, false>(Q, K, V, O, H, S, softmax_scale, causal,    \
                                                 fa_wg_smem);                                \
    }
#else
#define FA_WG_PARTS4_BODY(LAZY_) \
    (void)Q; (void)K; (void)V; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; \
    (void)fa_wg_smem; __trap();
#endif
//   FA_WG_PARTS4_ENTRY(name, lazy): D = 64, ABI attention_fwd_v1, 512 threads, block_m 64,
//   FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2) bytes, one CTA per SM.
#define FA_WG_PARTS4_ENTRY(NAME, LAZY_)                                                      \
    extern "C" __global__ void __launch_bounds__(512, 1)                                     \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_PARTS4_BODY(LAZY_)                                                             \
    }
