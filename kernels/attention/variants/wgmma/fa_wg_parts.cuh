// fa_wg_parts.cuh -- v19 (NOTES.md): two key parts per CTA with the loads issued under the
// first wgmma, a shared epilogue and, optionally, turns at the tensor cores; the body of
// fa_tc's wgmma_ks2 launch since v19, for grids of about one CTA per SM; it replaced
// fa_wg_core.cuh's fwd with KS = 2, OWN.  fa_tc ships it with ROLL since v20
// (FA_WG_PARTS_ENTRY_R(fa_tc_fwd_d64_wgmma_ks2, false, true, true)); v19's unrolled form is
// variants/fa_tc_v19.cu.  ABI attention_fwd_v1.  Harness entries fa_ks2x* (unrolled).
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
// Measured and dropped (NOTES.md v19; code at 77964ef): K and V of a step in separate
// cp.async groups, a share of the exponentials on the FMA pipe, row sums on the tensor
// cores, four key parts of one tile each.
// Ring (per part, 2 stages): step 0 with Q in the prologue; step 1 under S(0) (its stage was
// never used); step t + 1 (t >= 1) once P V(t - 1), the last reader of its stage, is complete
// in every warp of the part (named barrier 1 + p).  Every wait is cp.async.wait_group 0: the
// one group in flight at the top of step t is step t's.
// No wgmma is issued under a condition (ptxas would serialise every wgmma of the loop,
// C7519): the turns are peeled.  Every __syncthreads is one instruction both parts reach
// (bar.sync is .aligned; synccheck flagged v19's first epilogue, which had one per part).
#pragma once
#include <type_traits>

#include "fa_wg_tma_n128.cuh"  // gemm_qk_first

// Dynamic shared memory of an FA_WG_PARTS_ENTRY: Q, 2 stages x 2 parts x (K + V) of 128 keys
// (the wgmma_ks2 launch's 139264 B).
#define FA_WG_PARTS_SMEM_BYTES FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2)

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

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

template <int D, int BN, bool POS, bool LAZY, bool PP, bool ROLL = false>
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

    const int m0 = cta_first_row(causal, 64);  // heaviest causal blocks first
    if (m0 >= S) return;  // uniform per CTA
    const size_t head = head_offset(H, S, D);
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32_sw128(smem_raw);
    const u32 sStages = sQ + C::kQBytes;
    const int n_end = causal ? min(S, m0 + 64) : S;
    const int n_steps = ((n_end + BN - 1) / BN + KS - 1) / KS;
    const int w_row0 = m0 + wq * 16;  // first row of this warp
    const int q_row0 = w_row0 + gid;  // row of s[4j+0..1]; s[4j+2..3]: +8

    // This part's K tile of step t (its V tile right behind it).
    auto tile_of = [&](int t) -> u32 {
        return sStages + (t & 1) * kStepBytes + kp * C::kStageBytes;
    };
    // A step's loads, K then V, as one cp.async group (possibly empty).
    auto load_step = [&](int t, bool any) {
        if (any) {
            const int row0 = (KS * t + kp) * BN;
            load_rows<BN, D>(tile_of(t), Kh, row0, S, tid & 127);
            load_rows<BN, D>(tile_of(t) + C::kKvBytes, Vh, row0, S, tid & 127);
        }
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
    load_step(0, true);  // group {Q, K(0), V(0)}

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    u32 pf[BN / 16][4];  // P of the tile before the turn's S
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    // A = Q (K-major SW128): LBO 16 B ("1", unused), SBO 1024 B (next 8 rows).
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);
    // The softmax of step t: the first skips the rescale (softmax_tile FIRST).
    auto softmax = [&](auto first, int t) {
        float alpha[2];
        if (softmax_tile<BN, POS, LAZY, decltype(first)::value>(
                s, row_max, row_sum, alpha, scale_log2, (KS * t + kp) * BN, q_row0, w_row0, S,
                causal)) {
            rescale<D>(o, alpha);
        }
        pack_p<BN>(s, pf);
    };
    using First = std::true_type;
    using Later = std::false_type;

    if constexpr (PP) {
        if (kp == 1) named_bar_arrive(kTurn0, 256);  // part 0 takes the first turn
    }
    cp_async_wait<0>();  // Q and step 0: this thread's copies
    fence_proxy_async();
    __syncthreads();  // everyone's (Q is shared by both parts)
    trace_mark(1);
    // Turn 0: S(0), and the loads of step 1 (into stage 1, never used yet) under it.
    auto turn_first = [&] {
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
    };
    // Turn t > 0: P V(t-1) and S(t), then the loads of step t + 1.
    auto turn_next = [&](int t) {
        cp_async_wait<0>();  // step t: this thread's copies
        fence_proxy_async();
        named_bar_sync(1 + kp, 128);  // the part's
        if (t < 2) trace_mark(5);
        turn_begin();
        if (t < 2) trace_mark(6);
        wg_fence();
        gemm_pv<D, BN>(o, pf, v_desc(t - 1));
        gemm_qk_first<D, BN>(s, desc_q, k_desc(t));
        wg_commit();
        turn_end(false);
        wg_wait<0>();
        fence_regs(o);
        fence_regs(s);
        fence_regs(pf);
        if (t + 1 < n_steps) {  // (part-uniform)
            named_bar_sync(1 + kp, 128);  // the part's P V(t-1) done: its stage is free
        }
        load_step(t + 1, t + 1 < n_steps);  // possibly empty: keeps the wait counts exact
        if (t < 2) trace_mark(7);
    };
    if constexpr (ROLL) {
        // One loop for every turn and one softmax for every tile: each step runs the same
        // instructions, so a launch that starts with cold instruction caches fetches the
        // loop's code once (the unrolled schedule below runs turn 0, the first softmax and
        // the loop body as separate code).
        for (int t = 0; t < n_steps; ++t) {
            if (t == 0) {
                turn_first();
            } else {
                turn_next(t);
            }
            softmax(Later{}, t);  // one call site: one copy of the softmax's code
        }
    } else {
        turn_first();
        softmax(First{}, 0);
        trace_mark(4);
        for (int t = 1; t < n_steps; ++t) {
            turn_next(t);
            softmax(Later{}, t);
            if (t < 2) trace_mark(8);
        }
    }
    // row_sum is final after the last softmax: sum it over the row's quad now, under the
    // last turn's wait (the merge and the store then take full row sums).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += shfl_xor(row_sum[r], 1);
        row_sum[r] += shfl_xor(row_sum[r], 2);
    }
    // The last turn: P V(n_steps - 1).
    turn_begin();
    wg_fence();
    gemm_pv<D, BN>(o, pf, v_desc(n_steps - 1));
    wg_commit();
    turn_end(true);
    wg_wait<0>();
    fence_regs(o);
    fence_regs(pf);
    trace_mark(10);
    cp_async_wait<0>();  // remaining groups are empty

    finish_half<D, BN, POS>(o, row_max, row_sum, scale_log2, smem_raw, kp, wq, Oh, w_row0, S);
    trace_mark(12);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_PARTS_BODY(LAZY_, PP_, ROLL_)                                                  \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_parts<64, 128, true, LAZY_, PP_, ROLL_>(Q, K, V, O, H, S, softmax_scale,  \
                                                           causal, fa_wg_smem);              \
    } else {                                                                                 \
        fa_wg::fwd_parts<64, 128, false, false, PP_, ROLL_>(Q, K, V, O, H, S, softmax_scale, \
                                                            causal, fa_wg_smem);             \
    }
#else
#define FA_WG_PARTS_BODY(LAZY_, PP_, ROLL_) \
    (void)Q; (void)K; (void)V; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; \
    (void)fa_wg_smem; __trap();
#endif
//   FA_WG_PARTS_ENTRY(name, lazy, ping-pong): D = 64, ABI attention_fwd_v1, 256 threads,
//   block_m 64, FA_WG_PARTS_SMEM_BYTES bytes, one CTA per SM.  FA_WG_PARTS_ENTRY_R(name,
//   lazy, ping-pong, roll): the same with fwd_parts' ROLL.
#define FA_WG_PARTS_ENTRY(NAME, LAZY_, PP_) FA_WG_PARTS_ENTRY_R(NAME, LAZY_, PP_, false)
#define FA_WG_PARTS_ENTRY_R(NAME, LAZY_, PP_, ROLL_)                                         \
    extern "C" __global__ void __launch_bounds__(256, 1)                                     \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_PARTS_BODY(LAZY_, PP_, ROLL_)                                                  \
    }
